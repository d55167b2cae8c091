import CKernels

/// Instruction-set features of the host CPU, detected once.
public struct CPUFeatures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let avx2 = CPUFeatures(rawValue: UInt32(CK_CPU_AVX2))
    public static let fma = CPUFeatures(rawValue: UInt32(CK_CPU_FMA))
    public static let avx512f = CPUFeatures(rawValue: UInt32(CK_CPU_AVX512F))
    public static let avx512bw = CPUFeatures(rawValue: UInt32(CK_CPU_AVX512BW))
    public static let avx512vl = CPUFeatures(rawValue: UInt32(CK_CPU_AVX512VL))
    public static let avx512vnni = CPUFeatures(rawValue: UInt32(CK_CPU_AVX512VNNI))
    /// The VEX (256-bit) `vpdpbusd` of Alder Lake and later, Zen 5.
    public static let avxvnni = CPUFeatures(rawValue: UInt32(CK_CPU_AVXVNNI))
    /// AVX512_VBMI's `vpermi2b` (byte table lookups).
    public static let avx512vbmi = CPUFeatures(rawValue: UInt32(CK_CPU_AVX512VBMI))

    /// The features of this machine.
    public static let host = CPUFeatures(rawValue: ck_cpu_features())
}
