import CKernels

/// An instruction-set path of the kernels, best first. INT8 kernels distinguish the two
/// AVX-512 paths (VNNI `vpdpbusd` vs Skylake `vpmaddubsw`) and the two 256-bit ones (AVX-VNNI's
/// VEX `vpdpbusd` vs AVX2's `vpmaddubsw`); FP32 kernels use AVX-512F for both AVX-512 paths and
/// AVX2 for both 256-bit ones. What each path runs for each operation, and whether this CPU can
/// run it, is its table in `ck_kernels.h`, filled once from CPUID: the Swift kernels call
/// through `kernels` and never name an ISA variant.
public enum ISA: String, CaseIterable, Sendable, CustomStringConvertible {
    case avx512vnni
    case avx512
    case avxvnni
    case avx2
    case scalar

    public var description: String { rawValue }

    /// The path's number in `ck_kernels.h`.
    private var cValue: ck_isa {
        switch self {
        case .avx512vnni: CK_ISA_AVX512VNNI
        case .avx512: CK_ISA_AVX512
        case .avxvnni: CK_ISA_AVXVNNI
        case .avx2: CK_ISA_AVX2
        case .scalar: CK_ISA_SCALAR
        }
    }

    /// Every path's table by its number, nil where this CPU cannot run it (looked up once). The
    /// tables are immutable after `ck_kernels_for` fills them, so sharing the pointers is safe.
    /// An array, not a dictionary: every kernel call reads it (hashing an ISA per call was 2% of
    /// a small model's INT8 time).
    nonisolated(unsafe) private static let tables: [UnsafePointer<ck_kernels>?] = (0..<Int(CK_ISA_COUNT.rawValue)).map { n in
        ck_kernels_for(ck_isa(UInt32(n)))
    }

    /// The kernels this path runs (`ck_kernels.h`). Kernels are only built for supported paths
    /// (`named`, `best`, `supported` check), so a missing table is a programming error.
    var kernels: UnsafePointer<ck_kernels> {
        guard let table = Self.tables[Int(cValue.rawValue)] else { preconditionFailure("internal: the \(self) path used on a CPU without it") }
        return table
    }

    /// Whether this machine can run the path.
    public var isSupported: Bool { Self.tables[Int(cValue.rawValue)] != nil }

    /// The dense convolution microkernel of this path's full tile, named as in XNNPACK (dtype,
    /// op, tile, ISA), e.g. `qu8s8_gemm_14x32c4__avx512vnni`; "scalar" for the scalar twin.
    public var gemmMicrokernel: String { String(cString: kernels.pointee.gemm_u8s8) }

    /// The full-tile microkernel that runs weights packed as `format` (the 8-bit forms have their
    /// own tiles, e.g. `qu8s8_gemm_6x16c4_s16__avx2`); nil where the path does not read it.
    public func gemmMicrokernel(_ format: Int8ConvKernel.WeightFormat) -> String? {
        let names = kernels.pointee.gemm_u8s8_by_format
        let name = switch format {
        case .plain: names.0
        case .split: names.1
        case .widened: names.2
        }
        return name.map { String(cString: $0) }
    }

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
