import OctetCore
import OctetKernels

/// A 1×1 convolution over a map of a few pixels (the fully connected layers of a
/// squeeze-excitation block, a classifier's or a detector's head) run once over every image of a
/// layer-major group (`WorkerContext.run(group:)`): the images' input rows are gathered, the
/// kernel runs over all of them as rows of one GEMM, and each image's rows are copied back out.
///
/// Image by image, such a layer is a GEMM of one row: every weight panel is loaded for a single
/// row and the driver's per-call work is repeated per image (the 18 squeeze-excitation layers of
/// the PP-OCR classifier took 5% of its INT8 time for 1.4% of its integer multiply-accumulates). Each row
/// gets the arithmetic of the per-image kernel (same weights, bias, requantization and table), so
/// every image's output has the same bits as when it runs alone.
final class ConvAcrossImages: @unchecked Sendable {
    /// Largest map (pixels per image) run across images: beyond it a map fills the GEMM's rows
    /// on its own.
    static let maxPixels = 8

    /// The layer as a GEMM over `images × pixels` rows.
    let kernel: Int8ConvKernel
    /// Pixels per image, and bytes of one image's input and output rows.
    let pixels: Int
    let inputBytes: Int
    let outputBytes: Int
    /// Where the gathered input and output rows live in the worker's scratch (bytes, after the
    /// kernel's own scratch), and the scratch all of it needs.
    let inputOffset: Int
    let outputOffset: Int
    let scratchBytes: Int

    /// The layer `c` (with its reference weights) for groups of up to `images` images, or nil
    /// when it has no rows form (`ConvInt8.overRows`), its map has more than `maxPixels` pixels,
    /// or groups have one image.
    init?(_ c: ConvInt8, images: Int) {
        let pixels = c.inH * c.inW
        guard images > 1, pixels >= 1, pixels <= Self.maxPixels, let kernel = c.overRows(images * pixels) else { return nil }
        let elementBytes = if case .float = c.output { MemoryLayout<Float>.stride } else { 1 }
        self.kernel = kernel
        self.pixels = pixels
        inputBytes = pixels * c.inC
        outputBytes = pixels * c.outC * elementBytes
        func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }
        inputOffset = aligned(kernel.scratchBytes)
        outputOffset = inputOffset + aligned(images * inputBytes)
        scratchBytes = outputOffset + aligned(images * outputBytes)
    }

    /// Runs `c` (the layer this was made from) for the images whose arenas start at `bases`
    /// (at most the `images` it was made for), with `scratch` of at least `scratchBytes`
    /// (64-byte aligned).
    func run(_ c: ConvInt8, memory: Int8Memory, bases: [UnsafeMutablePointer<Float>], scratch: UnsafeMutableRawPointer) {
        let rows = scratch + inputOffset, results = scratch + outputOffset
        for (i, base) in bases.enumerated() {
            (rows + i * inputBytes).copyMemory(from: memory.bound(to: base).u8(c.input), byteCount: inputBytes)
        }
        kernel.run(input: UnsafePointer(rows.assumingMemoryBound(to: UInt8.self)), output: results, residual: nil,
                   pixels: 0..<(bases.count * pixels), scratch: scratch)
        let destination: (Int8Tensors) -> UnsafeMutableRawPointer
        switch c.output {
        case .quantized(let slot, _, _, _, _):
            if let table = c.table {
                let codes = results.assumingMemoryBound(to: UInt8.self)
                table.apply(codes, codes, count: bases.count * pixels * c.outC, isa: kernel.isa)
            }
            destination = { UnsafeMutableRawPointer($0.u8(slot)) }
        case .float(let slot, _, _, _):
            destination = { UnsafeMutableRawPointer($0.float(slot)) }
        }
        for (i, base) in bases.enumerated() {
            destination(memory.bound(to: base)).copyMemory(from: results + i * outputBytes, byteCount: outputBytes)
        }
    }
}
