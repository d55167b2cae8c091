/// One image's float tensor in the INT8 plan (network inputs, FP32 islands, float outputs), in
/// a 64-byte aligned buffer: the FP32 kernels' 64-byte vector loads and stores then never
/// straddle two cache lines, as they would in a Swift array (whose elements start 32 bytes into
/// a 16-byte aligned allocation). Written once by the step that produces it, then only read.
final class AlignedFloats: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    /// Contents undefined until the producing step writes every element.
    init(uninitializedCount count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
    }

    convenience init(zeroedCount count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: 0, count: count)
    }

    convenience init(_ values: [Float]) {
        self.init(uninitializedCount: values.count)
        values.withUnsafeBufferPointer { if let base = $0.baseAddress { pointer.initialize(from: base, count: values.count) } }
    }

    deinit { pointer.deallocate() }

    /// The empty tensor every slot holds before its step runs.
    static let empty = AlignedFloats(uninitializedCount: 0)

    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: pointer, count: count))
    }
}
