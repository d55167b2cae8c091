import OctetCore
import OctetIR
import OctetKernels

/// ConvTranspose of a quantized tensor with quantized weights, as the FP32 plan runs it (a 1×1
/// GEMM into per-pixel tap columns, then their scatter-add, `ConvTransposeGeometry`), with the GEMM
/// on the integer convolution kernels: each column is an exact s32 sum of code products, scaled
/// to real values (sx · sw of its output channel) by the kernel's float output stage; the
/// scatter-add and the bias are float, and the QuantizeLinear after it quantizes the sum.
extension Int8Compiler {
    /// The quantized input, quantized weights (codes `[cin][cout/group][kh][kw]`, zero point 0)
    /// and per-output-channel weight scales of an integer ConvTranspose, or nil when it is not one.
    func quantizedConvTranspose(_ node: Node) -> (x: (slot: Int, params: QuantParams), codes: [Int32], scales: [Float], shape: Shape)? {
        guard case .convTranspose = node.op, let x = quantized(node.inputs[0]), let w = constant(node.inputs[1]),
              let codes = w.quantized, w.shape.rank == 4, let xs = shapes[node.inputs[0]], xs.rank == 4, xs[0] == 1 else { return nil }
        // Per tensor, or per output channel of a group (axis 1 of the weights).
        guard w.scales.count == 1 || w.scales.count == w.shape[1] else { return nil }
        if let axis = dequantizedConstant(node.inputs[1])?.axis, w.scales.count > 1, axis != 1 && axis != -3 { return nil }
        return (x, codes, w.scales, w.shape)
    }

    mutating func lowerConvTranspose(_ node: Node) throws(RuntimeError) {
        guard case .convTranspose(let attrs) = node.op, let (x, codes, scales, wShape) = quantizedConvTranspose(node),
              let xs = shapes[node.inputs[0]] else { throw fail(node, "ConvTranspose that is not of a quantized tensor and weights") }
        let (cin, h, wd) = (xs[1], xs[2], xs[3])
        let g = attrs.group, cog = wShape[1]
        guard g > 0, cin % g == 0, wShape[0] == cin else { throw fail(node, "ConvTranspose weights \(wShape) do not fit \(xs) in \(g) groups") }
        let geometry = ConvTransposeGeometry(attrs, input: xs, weightShape: wShape)
        let gemm = geometry.gemm(inChannels: cin), cig = cin / g
        // Column (group, tap, oc) is output channel oc of its group: its weight scale.
        let columnScales = (0..<geometry.columnsPerPixel).map { row in
            Float(Double(x.params.scale) * Double(scales.count == 1 ? scales[0] : scales[row % cog]))
        }
        var bias: [Float]? = nil
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            guard let b = constant(node.inputs[2]), b.values.count == geometry.outChannels else { throw fail(node, "a bias that is not one value per output channel") }
            bias = b.values
        }
        let columnsName = node.outputs[0] + "#columns"
        shapes[columnsName] = [geometry.columnsPerPixel * h * wd]
        let columns = newFloat(columnsName)
        appendConv(gemm, input: x, weights: geometry.gemmWeights(codes, inChannelsPerGroup: cig), bias: [Int32](repeating: 0, count: geometry.columnsPerPixel),
                   output: .float(slot: columns, scales: columnScales, min: -.infinity, max: .infinity))
        steps.append(.col2im(src: columns, dst: newFloat(node.outputs[0]), geometry: geometry, bias: bias))
    }
}
