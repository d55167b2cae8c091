import OctetCore

/// How ONNX derives convolution/pooling padding when `auto_pad` is set.
public enum AutoPad: String, Hashable, Sendable {
    case notSet = "NOTSET", sameUpper = "SAME_UPPER", sameLower = "SAME_LOWER", valid = "VALID"
}

/// Spatial window of a 2-D convolution or pooling: kernel, strides, dilations, padding.
public struct Window2D: Hashable, Sendable {
    public var kernel: [Int]      // [kh, kw]
    public var strides: [Int]     // [sh, sw]
    public var dilations: [Int]   // [dh, dw]
    public var pads: [Int]        // [top, left, bottom, right]
    public var autoPad: AutoPad

    public init(kernel: [Int], strides: [Int] = [1, 1], dilations: [Int] = [1, 1],
                pads: [Int] = [0, 0, 0, 0], autoPad: AutoPad = .notSet) {
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.autoPad = autoPad
    }

    /// Explicit pads [top, left, bottom, right] for an input of spatial size `input`
    /// (ONNX Conv/Pool spec: SAME_* pads so that out = ceil(in / stride)).
    public func resolvedPads(input: [Int]) -> [Int] {
        switch autoPad {
        case .notSet: return pads
        case .valid: return [0, 0, 0, 0]
        case .sameUpper, .sameLower:
            var begin = [0, 0], end = [0, 0]
            for i in 0..<2 {
                let out = (input[i] + strides[i] - 1) / strides[i]
                let effective = (kernel[i] - 1) * dilations[i] + 1
                let total = max(0, (out - 1) * strides[i] + effective - input[i])
                let small = total / 2
                if autoPad == .sameUpper { begin[i] = small; end[i] = total - small }
                else { begin[i] = total - small; end[i] = small }
            }
            return [begin[0], begin[1], end[0], end[1]]
        }
    }

    /// Output spatial size for an input of spatial size `input`.
    public func outputSize(input: [Int], ceilMode: Bool = false) -> [Int] {
        let p = resolvedPads(input: input)
        return (0..<2).map { i in
            let effective = (kernel[i] - 1) * dilations[i] + 1
            let span = input[i] + p[i] + p[i + 2] - effective
            if span < 0 { return 0 }
            var out = (ceilMode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1
            // ONNX/PyTorch: with ceil_mode, the last window must start inside the input or left padding.
            if ceilMode && (out - 1) * strides[i] >= input[i] + p[i] { out -= 1 }
            return out
        }
    }
}

/// Attributes of Gemm: Y = alpha * A' * B' + beta * C.
public struct GemmAttributes: Hashable, Sendable {
    public var alpha: Float, beta: Float
    public var transA: Bool, transB: Bool
    public init(alpha: Float = 1, beta: Float = 1, transA: Bool = false, transB: Bool = false) {
        self.alpha = alpha; self.beta = beta; self.transA = transA; self.transB = transB
    }
}

/// The closed set of operators Octet understands. Per-op logic switches over this enum
/// without `default:`, so adding a case makes the compiler list every place to handle it.
public enum Op: Hashable, Sendable {
    /// Inputs: X, W, optional B.
    case conv(Window2D, group: Int)
    /// Inputs: X, scale, bias, mean, var.
    case batchNormalization(epsilon: Float)
    case relu
    /// Bounds resolved at import whether given as attributes (opset < 11) or constant inputs.
    case clip(min: Float, max: Float)
    case maxPool(Window2D, ceilMode: Bool)
    case averagePool(Window2D, ceilMode: Bool, countIncludePad: Bool)
    case globalAveragePool
    case add
    case mul
    case flatten(axis: Int)
    /// Inputs: data, shape (a constant).
    case reshape(allowZero: Bool)
    /// Inputs: A, B, optional C.
    case gemm(GemmAttributes)
    case matMul
    /// `coerce2D` is the opset < 13 semantics: flatten to 2-D at `axis`, softmax over the rest.
    case softmax(axis: Int, coerce2D: Bool)
    case concat(axis: Int)
    case identity
    case dropout
    /// Inputs: x, y_scale, optional y_zero_point. `axis` selects per-channel parameters.
    case quantizeLinear(axis: Int)
    /// Inputs: x, x_scale, optional x_zero_point.
    case dequantizeLinear(axis: Int)

    // General graph operators. Inputs that ONNX gives as attributes in some opsets and as
    // inputs in others (axes, splits, pads) are always inputs here: the importer turns the
    // attribute forms into constant initializers, so each rule reads them one way.

    /// Element-wise function of one input (Sigmoid, HardSwish, Exp, ...).
    case unary(UnaryFunction)
    /// Broadcasting function of two inputs (Sub, Div, Pow, Max, Min, PRelu, comparisons).
    case binary(BinaryFunction)
    /// Inputs: condition, X, Y (broadcast).
    case `where`
    /// `perm` nil reverses the axes.
    case transpose(perm: [Int]?)
    /// Inputs: data, starts, ends, optional axes, optional steps (constants after specialization).
    case slice
    /// Inputs: data, optional split sizes; `outputs` equal parts when the sizes are absent.
    case split(axis: Int, outputs: Int)
    /// Inputs: data, optional axes (absent: every size-1 axis).
    case squeeze
    /// Inputs: data, axes.
    case unsqueeze
    /// Inputs: data, shape.
    case expand
    /// Inputs: data, indices.
    case gather(axis: Int)
    /// Inputs: data, repeats.
    case tile
    /// Inputs: data, pads, optional constant value, optional axes.
    case pad(PadMode)
    /// The input's shape as int64, dims `start..<end`.
    case shape(start: Int, end: Int?)
    case size
    /// Inputs: shape. Fills with `value` (a one-element tensor).
    case constantOfShape(value: Tensor)
    /// Inputs: start, limit, delta.
    case range
    /// `toBool` casts to ONNX bool (kept as 0/1 of `to`).
    case cast(to: DType, toBool: Bool)
    /// Inputs: X, optional roi, optional scales, optional sizes.
    case resize(ResizeAttributes)
    /// Inputs: X, W [C_in, C_out/group, kH, kW], optional B.
    case convTranspose(ConvTransposeAttributes)
    /// Inputs: data, optional axes.
    case reduce(ReduceKind, keepDims: Bool, noopWithEmptyAxes: Bool)
    case globalMaxPool
    case logSoftmax(axis: Int, coerce2D: Bool)
    /// Inputs: X, scale, optional B; normalizes over axes `axis...`.
    case layerNormalization(axis: Int, epsilon: Float)
    /// Inputs: X, scale, B; normalizes each channel of each image over its spatial axes.
    case instanceNormalization(epsilon: Float)

    /// Whether this is QuantizeLinear or DequantizeLinear.
    public var isQDQ: Bool {
        switch self {
        case .quantizeLinear, .dequantizeLinear: true
        default: false
        }
    }

    /// Whether this is a layer that multiplies its input by a weight tensor (Conv, ConvTranspose,
    /// Gemm, MatMul): the ops whose weights the quantize pass quantizes when the weight is a
    /// constant.
    public var isWeightedLayer: Bool {
        switch self {
        case .conv, .gemm, .matMul, .convTranspose: true
        default: false
        }
    }

    /// Whether every output element is an element of the first input, moved (Transpose, Slice,
    /// Split, Gather, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout at inference,
    /// nearest Resize): quantizing commutes with it, so a quantized tensor keeps its parameters
    /// through it and the INT8 plan moves its codes.
    public var movesElements: Bool {
        switch self {
        case .transpose, .slice, .split, .gather, .reshape, .flatten, .squeeze, .unsqueeze, .identity, .dropout: true
        case .resize(let a): a.mode == .nearest
        default: false
        }
    }

    /// Whether the output carries the first input's quantization parameters: its elements are
    /// moved (`movesElements`) or are convex combinations of them (a linear Resize's blend of
    /// neighbours, which stays within the input's range). ONNX Runtime quantizes these ops with the
    /// input's parameters, and the INT8 plan computes them on the codes.
    public var keepsQuantization: Bool {
        if movesElements { return true }
        if case .resize(let a) = self { return a.mode == .linear }
        return false
    }

    /// The ONNX `op_type` of this operator.
    public var onnxType: String {
        switch self {
        case .conv: "Conv"
        case .batchNormalization: "BatchNormalization"
        case .relu: "Relu"
        case .clip: "Clip"
        case .maxPool: "MaxPool"
        case .averagePool: "AveragePool"
        case .globalAveragePool: "GlobalAveragePool"
        case .add: "Add"
        case .mul: "Mul"
        case .flatten: "Flatten"
        case .reshape: "Reshape"
        case .gemm: "Gemm"
        case .matMul: "MatMul"
        case .softmax: "Softmax"
        case .concat: "Concat"
        case .identity: "Identity"
        case .dropout: "Dropout"
        case .quantizeLinear: "QuantizeLinear"
        case .dequantizeLinear: "DequantizeLinear"
        case .unary(let f): f.onnxType
        case .binary(let f): f.onnxType
        case .where: "Where"
        case .transpose: "Transpose"
        case .slice: "Slice"
        case .split: "Split"
        case .squeeze: "Squeeze"
        case .unsqueeze: "Unsqueeze"
        case .expand: "Expand"
        case .gather: "Gather"
        case .tile: "Tile"
        case .pad: "Pad"
        case .shape: "Shape"
        case .size: "Size"
        case .constantOfShape: "ConstantOfShape"
        case .range: "Range"
        case .cast: "Cast"
        case .resize: "Resize"
        case .convTranspose: "ConvTranspose"
        case .reduce(let kind, _, _): kind.rawValue
        case .globalMaxPool: "GlobalMaxPool"
        case .logSoftmax: "LogSoftmax"
        case .layerNormalization: "LayerNormalization"
        case .instanceNormalization: "InstanceNormalization"
        }
    }

    /// Every ONNX op type Octet can import, for error messages.
    public static let supportedONNXTypes: [String] = ([
        "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "Dropout",
        "DequantizeLinear", "Flatten", "Gemm", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "Mul",
        "QuantizeLinear", "Relu", "Reshape", "Softmax",
        "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Neg", "Reciprocal", "Abs", "Erf", "Floor", "Ceil", "Round",
        "HardSwish", "Softplus", "Sign", "HardSigmoid", "LeakyRelu", "Elu", "Not", "Where", "Transpose", "Slice",
        "Split", "Squeeze", "Unsqueeze", "Expand", "Gather", "Tile", "Pad", "Shape", "Size", "ConstantOfShape",
        "Range", "Cast", "Resize", "Upsample", "ConvTranspose", "GlobalMaxPool", "LogSoftmax",
        "LayerNormalization", "InstanceNormalization", "Sum", "Mean",
    ] + BinaryFunction.allCases.map(\.onnxType) + ReduceKind.allCases.map(\.rawValue)).sorted()

    /// Operators refused by name before any work: recurrent and attention blocks are out of scope.
    public static let outOfScopeONNXTypes: Set<String> = [
        "LSTM", "GRU", "RNN", "Attention", "MultiHeadAttention", "Loop", "If", "Scan",
    ]

    /// Allowed number of inputs (inclusive range) and outputs.
    var arity: (inputs: ClosedRange<Int>, outputs: ClosedRange<Int>) {
        switch self {
        case .conv: (2...3, 1...1)
        case .batchNormalization: (5...5, 1...1)
        case .relu, .clip, .maxPool, .averagePool, .globalAveragePool, .flatten, .softmax, .identity:
            (1...1, 1...1)
        case .dropout: (1...3, 1...2)
        case .add, .mul, .matMul, .reshape: (2...2, 1...1)
        case .gemm: (2...3, 1...1)
        case .concat: (1...Int.max, 1...1)
        case .quantizeLinear, .dequantizeLinear: (2...3, 1...1)
        case .unary, .transpose, .shape, .size, .cast, .globalMaxPool, .logSoftmax, .constantOfShape: (1...1, 1...1)
        case .binary, .expand, .gather, .tile, .unsqueeze: (2...2, 1...1)
        case .where, .range, .instanceNormalization: (3...3, 1...1)
        case .slice: (3...5, 1...1)
        case .split(_, let n): (1...2, n...n)
        case .squeeze, .reduce: (1...2, 1...1)
        case .pad: (2...4, 1...1)
        case .resize: (1...4, 1...1)
        case .convTranspose, .layerNormalization: (2...3, 1...1)
        }
    }
}
