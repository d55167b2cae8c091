import OctetCore
import OctetKernels

/// A plan's final fully connected layer (a 1×1 convolution over a 1×1 image with a float
/// output that is the plan's only output) run once over several images, as one GEMM with a
/// row per image: its weights (1.3 MB for EfficientNet-Lite0's classifier) are then read from
/// memory once per group of images instead of once per image. Same arithmetic per row as the
/// per-image kernel, so the same bits.
struct BatchedHead {
    /// Rows (images) per kernel call.
    static let maxRows = 64

    /// Index of the head's step; the steps before it run per image.
    let step: Int
    /// The u8 slot holding an image's input row (`inC` codes).
    let input: Int
    let inC: Int, outC: Int
    let kernel: Int8ConvKernel

    /// The head of `steps`, or nil when the last step is not such a layer (or there is no C kernel).
    init?(steps: [Int8Step], outputs: [(name: String, slot: Int, shape: Shape)]) {
        guard let last = steps.last, case .conv(let c) = last, let fast = c.fast, c.residual == nil,
              c.inH == 1, c.inW == 1, c.kh == 1, c.kw == 1, c.groups == 1,
              case .float(let slot, let scales, let lo, let hi) = c.output,
              outputs.count == 1, outputs[0].slot == slot, outputs[0].shape.elementCount == c.outC else { return nil }
        let g = ConvLowering.rows(Self.maxRows, inner: c.inC, outer: c.outC)
        kernel = Int8ConvKernel(geometry: g, inputZeroPoint: c.inputZero, weights: c.weights, bias: c.bias,
                                output: .float(scales: scales, min: lo, max: hi), isa: fast.isa)
        step = steps.count - 1
        input = c.input
        inC = c.inC
        outC = c.outC
    }

    /// The head's outputs (`rows.count / inC` rows of `outC` floats) for the input rows `rows`.
    func run(_ rows: [UInt8]) -> [Float] {
        let n = rows.count / inC
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(kernel.scratchBytes, 64), alignment: 64)
        defer { scratch.deallocate() }
        var out = [Float](repeating: 0, count: n * outC)
        rows.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                guard let xs = x.baseAddress, let ys = y.baseAddress else { return }
                for r in stride(from: 0, to: n, by: Self.maxRows) {
                    kernel.run(input: xs + r * inC, output: UnsafeMutableRawPointer(ys + r * outC),
                               pixels: 0..<min(Self.maxRows, n - r), scratch: scratch)
                }
            }
        }
        return out
    }
}
