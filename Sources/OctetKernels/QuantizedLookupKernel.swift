import CKernels

/// `out[i] = table[x[i]]` on the C kernels: an element-wise function of one quantized tensor as a
/// 256-entry table. AVX512_VBMI looks up 64 codes per two `vpermi2b`; AVX2 (and AVX-512 without
/// VBMI) 32 codes per 16 `vpshufb`, 1.5× the byte loop on Zen 4; the scalar twin a byte loop.
public enum QuantizedLookupKernel {
    /// The implementations; each gives the same bytes.
    public enum Variant: String, CaseIterable, Sendable {
        case scalar, avx2, avx512vbmi

        public var isSupported: Bool {
            switch self {
            case .scalar: true
            case .avx2: ISA.avx2.isSupported
            case .avx512vbmi: CPUFeatures.host.contains(.avx512vbmi)
            }
        }
    }

    /// One table of 256 codes per channel of NHWC codes (`channelTables[c·256 + code]`).
    public static func run(_ x: UnsafePointer<UInt8>, channelTables: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>,
                           pixels: Int, channels: Int) {
        ck_lookup_channels_u8__scalar(x, channelTables, output, pixels, channels)
    }

    /// With the lookup `isa`'s table chooses (VBMI on the AVX-512 paths of a CPU that has it).
    public static func run(_ x: UnsafePointer<UInt8>, table: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>, count: Int,
                           isa: ISA) {
        isa.kernels.pointee.lookup_u8(x, table, output, count)
    }

    /// With one variant forced (tests compare them).
    public static func run(_ x: UnsafePointer<UInt8>, table: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>, count: Int,
                           variant: Variant) {
        switch variant {
        case .avx512vbmi: ck_lookup_u8__avx512vbmi(x, table, output, count)
        case .avx2: ck_lookup_u8__avx2(x, table, output, count)
        case .scalar: ck_lookup_u8__scalar(x, table, output, count)
        }
    }
}
