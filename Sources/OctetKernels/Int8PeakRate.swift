import CKernels

/// The peak multiply-accumulate rate of the INT8 instructions each path is built on, measured on
/// this machine by a loop of independent accumulator chains (`ck_peak.h`): the ceiling a
/// convolution on that path is compared with ("% of path peak").
public enum Int8PeakLoop: String, CaseIterable, Sendable {
    /// `vpdpbusd` zmm (avx512vnni).
    case vpdpbusd512
    /// `vpmaddubsw` + `vpmaddwd` + `vpaddd` zmm (avx512).
    case maddubs512
    /// VEX `vpdpbusd` ymm (avxvnni).
    case vpdpbusd256
    /// `vpmaddubsw` + `vpmaddwd` + `vpaddd` ymm (avx2).
    case maddubs256
    /// `vpmaddwd` + `vpaddd` on 16-bit operands, ymm: the bound of the avx2 s16 kernels (8-bit weights).
    case maddwd256
    /// `vpmaddwd` + `vpaddd` on 16-bit operands, zmm: the bound of the avx512 s16 kernels (8-bit weights).
    case maddwd512

    /// The loop bounding `isa`'s INT8 convolutions (nil for scalar).
    public static func bounding(_ isa: ISA) -> Int8PeakLoop? {
        switch isa {
        case .avx512vnni: .vpdpbusd512
        case .avx512: .maddubs512
        case .avxvnni: .vpdpbusd256
        case .avx2: .maddubs256
        case .scalar: nil
        }
    }

    /// The loop bounding `isa`'s convolutions of `weightBits`-bit weights: 8-bit weights on the
    /// `vpmaddubsw` paths run widened to 16 bits under `vpmaddwd` (the s16 kernels).
    public static func bounding(_ isa: ISA, weightBits: Int) -> Int8PeakLoop? {
        guard weightBits >= 8 else { return bounding(isa) }
        switch isa {
        case .avx512: return .maddwd512
        case .avx2: return .maddwd256
        default: return bounding(isa)
        }
    }

    /// Whether this CPU can run the loop.
    public var isSupported: Bool {
        switch self {
        case .vpdpbusd512: ISA.avx512vnni.isSupported
        case .maddubs512, .maddwd512: ISA.avx512.isSupported
        case .vpdpbusd256: ISA.avxvnni.isSupported
        case .maddubs256, .maddwd256: ISA.avx2.isSupported
        }
    }

    /// Giga-ops per second (2 per multiply-accumulate) on the calling thread: the best of `rounds`
    /// runs of about `seconds` each; nil where the CPU lacks the instructions.
    public func measure(seconds: Double = 0.03, rounds: Int = 5) -> Double? {
        guard isSupported else { return nil }
        let run: (Int) -> UInt64 = switch self {
        case .vpdpbusd512: { ck_peak_u8s8__avx512vnni($0) }
        case .maddubs512: { ck_peak_u8s8__avx512bw($0) }
        case .vpdpbusd256: { ck_peak_u8s8__avxvnni($0) }
        case .maddubs256: { ck_peak_u8s8__avx2($0) }
        case .maddwd256: { ck_peak_u8s8__avx2_maddwd($0) }
        case .maddwd512: { ck_peak_u8s8__avx512bw_maddwd($0) }
        }
        return PeakTiming.bestRate(seconds: seconds, rounds: rounds, run)
    }
}
