import OctetPipeline

/// Seeded random values for randomized tests (reproducible from the seed in a failure message).
public struct TestRandom {
    public var rng: SeededRandom
    public init(seed: UInt64) { rng = SeededRandom(seed: seed) }

    public mutating func floats(_ count: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<count).map { _ in rng.uniform(lo, hi) }
    }

    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(rng.next() % UInt64(range.count))
    }

    public mutating func bool() -> Bool { rng.next() & 1 == 1 }

    public mutating func tensor(_ shape: Shape, _ lo: Float = -1, _ hi: Float = 1) -> Tensor {
        try! Tensor(shape: shape, floats: floats(shape.elementCount, lo, hi))
    }
}

/// The largest |a - b| relative to the largest |b| (how close two output vectors are).
public func maxRelativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "compared vectors differ in length")
    let scale = max(b.map { Double(abs($0)) }.max() ?? 0, 1e-30)
    return zip(a, b).map { Double(abs($0 - $1)) }.max().map { $0 / scale } ?? 0
}
