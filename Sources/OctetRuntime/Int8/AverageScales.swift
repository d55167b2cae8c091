/// The input and output scales of an INT8 average pool, from which each window's multiplier is
/// computed for its number of taps (`Int8Arithmetic.averageMultiplier`, ONNX Runtime's order).
struct AverageScales: Sendable, Equatable {
    let input: Float
    let output: Float

    /// The requantization multiplier of a window averaging `taps` codes.
    func multiplier(taps: Int) -> Float {
        Int8Arithmetic.averageMultiplier(inputScale: input, outputScale: output, taps: taps)
    }
}
