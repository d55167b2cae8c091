import Foundation

/// Small models that several tests calibrate, written once.
public enum SmallModels {
    /// x [N,3,12,12] → 3×3 Conv 3→16 + Relu → 3×3/2 Conv 16→8 → GlobalAveragePool → Flatten [N, 8],
    /// written to `dir/small.onnx`, with `samples` random inputs in `dir/d.npy`; returns both paths.
    public static func convPoolModel(in dir: URL, seed: UInt64, samples: Int = 8) throws -> (model: String, data: String) {
        var b = GraphBuilder(name: "small")
        let x = b.input("x", dims: [nil, 3, 12, 12])
        var r = TestRandom(seed: seed)
        var y = b.add(.relu, [b.add(.conv(Window2D(kernel: [3, 3], pads: [1, 1, 1, 1]), group: 1),
                                    [x, b.constant("w1", r.tensor([16, 3, 3, 3])), b.constant("b1", r.tensor([16]))])])
        y = b.add(.conv(Window2D(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1]), group: 1), [y, b.constant("w2", r.tensor([8, 16, 3, 3]))])
        y = b.add(.flatten(axis: 1), [b.add(.globalAveragePool, [y])])
        b.output(y, dims: [nil, 8])
        let model = dir.appendingPathComponent("small.onnx").path
        try ONNXExporter.write(b.graph, to: URL(fileURLWithPath: model))
        let npy = dir.appendingPathComponent("d.npy").path
        try NPYFile.write(path: npy, shape: [samples, 3, 12, 12], values: r.tensor([samples, 3, 12, 12]).floats!)
        return (model, npy)
    }
}

extension Int8ConvKernel {
    /// Runs the kernel on every output pixel in two calls split at `split` (as threads split a
    /// layer), into a buffer of `bytes` filled with 0xEE first, and returns it.
    public func runSplit(_ input: [UInt8], pixels: Int, split: Int, bytes: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: bytes)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(scratchBytes, 64), alignment: 64)
        defer { scratch.deallocate() }
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBytes {
                run(input: x.baseAddress!, output: $0.baseAddress!, pixels: 0..<split, scratch: scratch)
                run(input: x.baseAddress!, output: $0.baseAddress!, pixels: split..<pixels, scratch: scratch)
            }
        }
        return out
    }
}
