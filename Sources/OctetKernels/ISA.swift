import CKernels

/// An instruction-set path of the kernels, best first. INT8 kernels distinguish the two
/// AVX-512 paths (VNNI `vpdpbusd` vs Skylake `vpmaddubsw`) and the two 256-bit ones (AVX-VNNI's
/// VEX `vpdpbusd` vs AVX2's `vpmaddubsw`); FP32 kernels use AVX-512F for both AVX-512 paths and
/// AVX2 for both 256-bit ones.
public enum ISA: String, CaseIterable, Sendable, CustomStringConvertible {
    case avx512vnni
    case avx512
    case avxvnni
    case avx2
    case scalar

    public var description: String { rawValue }

    /// The features this path needs.
    var required: CPUFeatures {
        switch self {
        case .avx512vnni: [.avx512f, .avx512bw, .avx512vl, .avx512vnni, .fma]
        case .avx512: [.avx512f, .avx512bw, .avx512vl, .fma]
        case .avxvnni: [.avx2, .fma, .avxvnni]
        case .avx2: [.avx2, .fma]
        case .scalar: []
        }
    }

    /// Whether this machine can run the path.
    public var isSupported: Bool { CPUFeatures.host.isSuperset(of: required) }

    /// The best path this machine supports.
    public static var best: ISA { allCases.first { $0.isSupported } ?? .scalar }

    /// Every path this machine supports, best first (what tests force one by one).
    public static var supported: [ISA] { allCases.filter(\.isSupported) }

    /// The path named by `OCTET_ISA` if set and valid, else the best one.
    public static func fromEnvironment(_ environment: [String: String]) throws(KernelError) -> ISA {
        guard let name = environment["OCTET_ISA"], !name.isEmpty else { return best }
        return try named(name)
    }

    /// Parses a user-given path name, checking that the CPU supports it.
    public static func named(_ name: String) throws(KernelError) -> ISA {
        guard let isa = ISA(rawValue: name.lowercased()) else {
            throw .unknownISA(name, known: allCases.map(\.rawValue))
        }
        guard isa.isSupported else { throw .unsupportedISA(isa) }
        return isa
    }
}

/// Why a kernel path cannot be used.
public enum KernelError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownISA(String, known: [String])
    case unsupportedISA(ISA)

    public var description: String {
        switch self {
        case .unknownISA(let n, let known): "unknown ISA path '\(n)' (known: \(known.joined(separator: ", ")))"
        case .unsupportedISA(let isa): "this CPU does not support the \(isa) path (supported: \(ISA.supported.map(\.rawValue).joined(separator: ", ")))"
        }
    }
}
