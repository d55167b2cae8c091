import Foundation
import OctetCore

/// An element-wise function of one float (ONNX's unary activation and math operators).
/// `apply` is the definition the runtime and the constant folder both use.
public enum UnaryFunction: Hashable, Sendable {
    case sigmoid, tanh, exp, log, sqrt, neg, reciprocal, abs, erf, floor, ceil, round, hardSwish, softplus, sign
    /// y = max(0, min(1, alpha * x + beta)).
    case hardSigmoid(alpha: Float, beta: Float)
    case leakyRelu(alpha: Float)
    case elu(alpha: Float)
    /// Logical/boolean `Not` on 0/1 values.
    case not

    /// The ONNX op type.
    public var onnxType: String {
        switch self {
        case .sigmoid: "Sigmoid"
        case .tanh: "Tanh"
        case .exp: "Exp"
        case .log: "Log"
        case .sqrt: "Sqrt"
        case .neg: "Neg"
        case .reciprocal: "Reciprocal"
        case .abs: "Abs"
        case .erf: "Erf"
        case .floor: "Floor"
        case .ceil: "Ceil"
        case .round: "Round"
        case .hardSwish: "HardSwish"
        case .softplus: "Softplus"
        case .sign: "Sign"
        case .hardSigmoid: "HardSigmoid"
        case .leakyRelu: "LeakyRelu"
        case .elu: "Elu"
        case .not: "Not"
        }
    }

    /// The ONNX operator definition, evaluated in float (ONNX Runtime's CPU kernels compute
    /// these in float too; `hardSwish` is x * HardSigmoid(x) with alpha 1/6, beta 0.5; `sigmoid`
    /// is ONNX Runtime's own approximation, `RationalLogistic`, so quantized tables match its codes).
    @inline(__always)
    public func apply(_ x: Float) -> Float {
        switch self {
        case .sigmoid: RationalLogistic.evaluate(x)
        case .tanh: Foundation.tanh(x)
        case .exp: Foundation.exp(x)
        case .log: Foundation.log(x)
        case .sqrt: x.squareRoot()
        case .neg: -x
        case .reciprocal: 1 / x
        case .abs: Swift.abs(x)
        case .erf: Foundation.erf(x)
        case .floor: x.rounded(.down)
        case .ceil: x.rounded(.up)
        case .round: x.rounded(.toNearestOrEven)
        case .hardSwish: x * UnaryFunction.hardSigmoid(alpha: 1 / 6, beta: 0.5).apply(x)
        case .softplus: x > 20 ? x : Foundation.log1p(Foundation.exp(x))
        case .sign: x > 0 ? 1 : (x < 0 ? -1 : 0)
        case .hardSigmoid(let alpha, let beta):
            // NaN propagates (Swift.min/max would turn it into a bound).
            { (t: Float) -> Float in t.isNaN ? t : Swift.max(0, Swift.min(1, t)) }(alpha * x + beta)
        case .leakyRelu(let alpha): x >= 0 ? x : alpha * x
        case .elu(let alpha): x >= 0 ? x : alpha * (Foundation.exp(x) - 1)
        case .not: x == 0 ? 1 : 0
        }
    }

    /// The function on integers, for folding shape arithmetic; nil where ONNX defines it
    /// for floats only.
    public func apply(_ x: Int64) -> Int64? {
        switch self {
        case .neg: -x
        case .abs: Swift.abs(x)
        case .sign: x.signum()
        case .floor, .ceil, .round: x
        case .not: x == 0 ? 1 : 0
        default: nil
        }
    }
}

/// A broadcasting element-wise function of two values (besides Add and Mul, which have their
/// own `Op` cases because the fusion and INT8 rules name them).
public enum BinaryFunction: String, Hashable, Sendable, CaseIterable {
    case sub = "Sub", div = "Div", pow = "Pow", max = "Max", min = "Min", mod = "Mod"
    /// x < 0 ? slope * x : x, the slope broadcast to x (unidirectional).
    case prelu = "PRelu"
    case equal = "Equal", less = "Less", lessOrEqual = "LessOrEqual", greater = "Greater", greaterOrEqual = "GreaterOrEqual"
    case and = "And", or = "Or", xor = "Xor"

    public var onnxType: String { rawValue }

    /// Whether the result is a boolean (0 or 1; Octet keeps booleans as 0/1 in the operand's type).
    public var isComparison: Bool {
        switch self {
        case .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .and, .or, .xor: true
        default: false
        }
    }

    @inline(__always)
    public func apply(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .sub: a - b
        case .div: a / b
        case .pow: Foundation.pow(a, b)
        case .max: a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
        case .min: a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
        case .mod: Foundation.fmod(a, b)
        case .prelu: a < 0 ? a * b : a
        case .equal: a == b ? 1 : 0
        case .less: a < b ? 1 : 0
        case .lessOrEqual: a <= b ? 1 : 0
        case .greater: a > b ? 1 : 0
        case .greaterOrEqual: a >= b ? 1 : 0
        case .and: a != 0 && b != 0 ? 1 : 0
        case .or: a != 0 || b != 0 ? 1 : 0
        case .xor: (a != 0) != (b != 0) ? 1 : 0
        }
    }

    /// Integer semantics (ONNX Runtime's: Div truncates toward zero, Mod with fmod=0 takes the
    /// divisor's sign); nil for a division by zero.
    public func apply(_ a: Int64, _ b: Int64) -> Int64? {
        switch self {
        case .sub: return a &- b
        case .div: return b == 0 ? nil : a / b
        case .pow:
            guard b >= 0 else { return nil }
            var r: Int64 = 1
            for _ in 0..<Swift.min(b, 64) { r = r &* a }
            return r
        case .max: return Swift.max(a, b)
        case .min: return Swift.min(a, b)
        case .mod:
            guard b != 0 else { return nil }
            let r = a % b
            return r != 0 && (r < 0) != (b < 0) ? r + b : r
        case .prelu: return a < 0 ? a &* b : a
        case .equal: return a == b ? 1 : 0
        case .less: return a < b ? 1 : 0
        case .lessOrEqual: return a <= b ? 1 : 0
        case .greater: return a > b ? 1 : 0
        case .greaterOrEqual: return a >= b ? 1 : 0
        case .and: return a != 0 && b != 0 ? 1 : 0
        case .or: return a != 0 || b != 0 ? 1 : 0
        case .xor: return (a != 0) != (b != 0) ? 1 : 0
        }
    }
}

/// Which reduction a Reduce* operator computes.
public enum ReduceKind: String, Hashable, Sendable, CaseIterable {
    case mean = "ReduceMean", sum = "ReduceSum", max = "ReduceMax", min = "ReduceMin", l2 = "ReduceL2",
         l1 = "ReduceL1", prod = "ReduceProd", sumSquare = "ReduceSumSquare"
}

/// Pad's `mode` attribute.
public enum PadMode: String, Hashable, Sendable { case constant, reflect, edge }

/// Resize's interpolation settings (ONNX Resize-11..19).
public struct ResizeAttributes: Hashable, Sendable {
    public enum Mode: String, Hashable, Sendable { case nearest, linear }
    /// How an output coordinate maps to an input coordinate.
    public enum CoordinateTransform: String, Hashable, Sendable {
        case halfPixel = "half_pixel", pytorchHalfPixel = "pytorch_half_pixel", alignCorners = "align_corners",
             asymmetric = "asymmetric", tfHalfPixelForNN = "tf_half_pixel_for_nn", halfPixelSymmetric = "half_pixel_symmetric"
    }
    public enum NearestMode: String, Hashable, Sendable {
        case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil
    }
    public var mode: Mode
    public var coordinateTransform: CoordinateTransform
    public var nearestMode: NearestMode

    public init(mode: Mode, coordinateTransform: CoordinateTransform, nearestMode: NearestMode) {
        self.mode = mode
        self.coordinateTransform = coordinateTransform
        self.nearestMode = nearestMode
    }
}

/// ConvTranspose's attributes beyond the window: per-axis output padding and an optional
/// explicit output shape (which overrides the pads, as the ONNX spec says).
public struct ConvTransposeAttributes: Hashable, Sendable {
    public var window: Window2D
    public var group: Int
    public var outputPadding: [Int]
    public var outputShape: [Int]?

    public init(window: Window2D, group: Int, outputPadding: [Int] = [0, 0], outputShape: [Int]? = nil) {
        self.window = window
        self.group = group
        self.outputPadding = outputPadding
        self.outputShape = outputShape
    }

    /// Explicit [top, left, bottom, right] pads and the output size for spatial input `input`
    /// (ONNX ConvTranspose: out = stride * (in - 1) + output_padding + ((k - 1) * d + 1) - pads).
    public func geometry(input: [Int]) -> (pads: [Int], output: [Int]) {
        var pads = window.pads
        var out = [0, 0]
        for i in 0..<2 {
            let effective = (window.kernel[i] - 1) * window.dilations[i] + 1
            let full = window.strides[i] * (input[i] - 1) + outputPadding[i] + effective
            if let target = outputShape, target.count == 2 {
                // ONNX ConvTranspose (and ONNX Runtime): SAME_UPPER puts the smaller half first,
                // otherwise the larger half goes first.
                let total = full - target[i]
                let small = total / 2
                if window.autoPad == .sameUpper { pads[i] = small; pads[i + 2] = total - small }
                else { pads[i] = total - small; pads[i + 2] = small }
                out[i] = target[i]
            } else if window.autoPad == .sameUpper || window.autoPad == .sameLower {
                let target = input[i] * window.strides[i]
                let total = Swift.max(0, full - target)
                let small = total / 2
                if window.autoPad == .sameUpper { pads[i] = small; pads[i + 2] = total - small }
                else { pads[i] = total - small; pads[i + 2] = small }
                out[i] = target
            } else {
                if window.autoPad == .valid { pads[i] = 0; pads[i + 2] = 0 }
                out[i] = full - pads[i] - pads[i + 2]
            }
        }
        return (pads, out)
    }
}
