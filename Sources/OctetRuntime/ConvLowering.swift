import OctetCore
import OctetIR
import OctetKernels

/// A Conv node, or a Gemm/MatMul with a constant 2-D B, as the one convolution the kernels run:
/// a dense layer is a 1×1 convolution over the rows of A. Its geometry and its weight layout are
/// derived here once, for the FP32 compiler, the INT8 compiler and the weight-sensitivity analysis.
///
///     Conv  x[1,C,H,W] ⊛ W[O,C/g,kh,kw]  →  geometry from the shapes, pads and window
///     Gemm  A[rows,k] · B[k,n] (B[n,k] with transB), α, β  →  1×1 conv: H=1, W=rows, C=k, O=n
public struct ConvLowering {
    /// The convolution the kernels run for one image.
    public let geometry: ConvGeometry
    /// Gemm's alpha (1 otherwise): the real weights are alpha × B.
    public let alpha: Float
    /// Gemm's beta (1 otherwise): the real bias is beta × C.
    public let beta: Float
    /// For dense layers: B's inner and output sizes and whether it is stored [n][k] (transB).
    private let dense: (k: Int, n: Int, transposed: Bool)?
    /// For convolutions: the OIHW weight shape.
    private let weightShape: Shape

    /// - Parameters: `input`/`output` are the per-image shapes of the node's first input and
    ///   output, `weightShape` the shape of its constant weights (input 1).
    public init(_ node: Node, input x: Shape, output y: Shape, weightShape w: Shape) throws(RuntimeError) {
        switch node.op {
        case .conv(let window, let group):
            guard x.rank == 4, y.rank == 4, w.rank == 4, group >= 1, w[0] % group == 0 else {
                throw .unsupported(node: node.name, detail: "Conv of input \(x), weights \(w) and output \(y) (only 2-D convolutions)")
            }
            let pads = window.resolvedPads(input: [x[2], x[3]])
            let geometry = ConvGeometry(
                inHeight: x[2], inWidth: x[3], inPixelStride: x[1], outHeight: y[2], outWidth: y[3], outPixelStride: y[1],
                kernel: (w[2], w[3]), stride: (window.strides[0], window.strides[1]),
                dilation: (window.dilations[0], window.dilations[1]), padTop: pads[0], padLeft: pads[1],
                groups: group, inChannelsPerGroup: w[1], outChannelsPerGroup: w[0] / group)
            self.init(geometry: geometry, alpha: 1, beta: 1, dense: nil, weightShape: w)
        case .gemm(let a):
            if a.transA { throw .unsupported(node: node.name, detail: "Gemm with transA=1") }
            try self.init(denseNode: node, input: x, weightShape: w, transposed: a.transB, alpha: a.alpha, beta: a.beta)
            return
        case .matMul:
            try self.init(denseNode: node, input: x, weightShape: w, transposed: false, alpha: 1, beta: 1)
            return
        default:
            throw .unsupported(node: node.name, detail: "\(node.op.onnxType) as a convolution")
        }
    }

    private init(denseNode node: Node, input x: Shape, weightShape w: Shape, transposed: Bool, alpha: Float, beta: Float) throws(RuntimeError) {
        guard w.rank == 2, x.rank >= 1 else {
            throw .unsupported(node: node.name, detail: "\(node.op.onnxType) with a rank-\(w.rank) constant B (only 2-D)")
        }
        let k = transposed ? w[1] : w[0], n = transposed ? w[0] : w[1]
        guard x[x.rank - 1] == k else {
            throw .unsupported(node: node.name, detail: "\(node.op.onnxType) of A \(x) and B \(w): inner sizes differ")
        }
        self.init(geometry: Self.rows(x.elementCount / max(k, 1), inner: k, outer: n), alpha: alpha, beta: beta,
                  dense: (k, n, transposed), weightShape: w)
    }

    private init(geometry: ConvGeometry, alpha: Float, beta: Float, dense: (k: Int, n: Int, transposed: Bool)?, weightShape: Shape) {
        self.geometry = geometry; self.alpha = alpha; self.beta = beta; self.dense = dense; self.weightShape = weightShape
    }

    /// The 1×1 convolution that multiplies each of `rows` rows of `inner` values by an
    /// `inner × outer` matrix (dense layers, the INT8 batched classifier head).
    public static func rows(_ rows: Int, inner: Int, outer: Int) -> ConvGeometry {
        ConvGeometry(inHeight: 1, inWidth: rows, inPixelStride: inner, outHeight: 1, outWidth: rows, outPixelStride: outer,
                     kernel: (1, 1), inChannelsPerGroup: inner, outChannelsPerGroup: outer)
    }

    /// The weights (row-major, as stored in the model) in OIHW order, [out][in/groups][kh][kw]:
    /// a Conv's unchanged, a dense B transposed to [n][k] unless stored so (transB).
    public func oihw<T>(_ values: [T]) -> [T] {
        guard let d = dense, !d.transposed else { return values }
        return (0..<(d.n * d.k)).map { values[($0 % d.k) * d.n + $0 / d.k] }
    }

    /// The real weights in OIHW order: `oihw(values)` times alpha.
    public func realWeights(_ values: [Float]) -> [Float] {
        alpha == 1 ? oihw(values) : oihw(values).map { alpha * $0 }
    }

    /// The weights in OHWI order, [out][kh][kw][in/groups] (the INT8 kernels' layout).
    public func ohwi<T>(_ values: [T]) -> [T] {
        guard dense == nil else { return oihw(values) }
        let (o, cpg, kh, kw) = (weightShape[0], weightShape[1], weightShape[2], weightShape[3])
        var out = values
        for oc in 0..<o { for c in 0..<cpg { for y in 0..<kh { for xk in 0..<kw {
            out[((oc * kh + y) * kw + xk) * cpg + c] = values[((oc * cpg + c) * kh + y) * kw + xk]
        } } } }
        return out
    }

    /// The real bias of each output channel from the node's bias constant: a Conv's unchanged,
    /// a Gemm's C (one value or one per output) times beta. Nil when C is not a row vector.
    public func bias(_ c: [Float], shape: Shape) -> [Float]? {
        guard dense != nil else { return c }
        let n = geometry.outChannels
        guard c.count == n || c.count == 1, shape.rank <= 1 || shape.dims.dropLast().allSatisfy({ $0 == 1 }) else { return nil }
        return (0..<n).map { beta * c[c.count == 1 ? 0 : $0] }
    }
}
