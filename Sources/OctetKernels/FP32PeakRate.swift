import CKernels

/// The peak FMA rate of the FP32 kernels' vector width, measured on this machine by a loop of
/// independent `vfmadd` chains (`ck_peak.h`): the ceiling an FP32 convolution is compared with
/// ("% FMA peak"), instead of a clock and port count assumed for one CPU.
public enum FP32PeakLoop: String, CaseIterable, Sendable {
    /// `vfmadd` zmm: the FP32 kernels of the avx512vnni and avx512 paths.
    case fma512
    /// `vfmadd` ymm: the FP32 kernels of the avxvnni and avx2 paths.
    case fma256

    /// The loop bounding `isa`'s FP32 kernels (nil for scalar).
    public static func bounding(_ isa: ISA) -> FP32PeakLoop? {
        switch isa {
        case .avx512vnni, .avx512: .fma512
        case .avxvnni, .avx2: .fma256
        case .scalar: nil
        }
    }

    /// Whether this CPU can run the loop.
    public var isSupported: Bool {
        switch self {
        case .fma512: ISA.avx512.isSupported
        case .fma256: ISA.avx2.isSupported
        }
    }

    /// GFLOPS (2 per FMA lane) on the calling thread, best of `rounds` runs of about `seconds`
    /// each; nil where the CPU lacks the instructions.
    public func measure(seconds: Double = 0.05, rounds: Int = 10) -> Double? {
        guard isSupported else { return nil }
        return switch self {
        case .fma512: PeakTiming.bestRate(seconds: seconds, rounds: rounds) { ck_peak_f32__avx512f($0) }
        case .fma256: PeakTiming.bestRate(seconds: seconds, rounds: rounds) { ck_peak_f32__avx2($0) }
        }
    }
}
