/// The variants of a kernel written once for 256-bit vectors (AVX2), once for 512-bit ones
/// (AVX-512) and as its scalar twin: what tests and benchmarks force one by one. Each gives the
/// scalar twin's results.
public enum VectorVariant: String, CaseIterable, Sendable {
    case scalar, avx2, avx512

    /// Whether this machine can run it.
    public var isSupported: Bool {
        switch self {
        case .scalar: true
        case .avx2: ISA.avx2.isSupported
        case .avx512: ISA.avx512.isSupported
        }
    }
}
