import OctetCore
import OctetIR
import OctetKernels

/// An element-wise function of u8 codes (`Int8Compiler.lowerAsTable`): one 256-entry table, or
/// one per channel of NHWC codes (`bytes[c·256 + code]`, PRelu's slopes), and, where the function
/// is a PRelu or LeakyRelu whose kernel was checked to give these bytes for every code of every
/// channel, that kernel: a table per channel costs one dependent scalar load per code.
struct CodeTable: Sendable {
    let bytes: [UInt8]
    /// Computes `bytes` (per-channel tables only; nil: look them up).
    let computed: LeakyCodesKernel?

    /// Channels of the codes the tables index (1: one table for every code).
    var channels: Int { bytes.count / 256 }

    /// The table of `nodes` (a one-node island reading codes `x`, written as codes `y` per tensor
    /// or per channel), with the computed kernel when the island is one PRelu or LeakyRelu, the
    /// tables are per channel, and the kernel's bytes equal them exactly.
    init(bytes: [UInt8], nodes: [Node], graph: Graph, x: QuantParams, yScales: [Float], y: QuantParams) {
        self.bytes = bytes
        let channels = bytes.count / 256
        guard channels > 1, nodes.count == 1 else { computed = nil; return }
        let slopes: [Float]?
        switch nodes[0].op {
        case .binary(.prelu):
            slopes = nodes[0].inputs.count == 2 ? graph.initializers[nodes[0].inputs[1]]?.floats : nil
        case .unary(.leakyRelu(let alpha)):
            slopes = [alpha]
        default:
            slopes = nil
        }
        guard let slopes else { computed = nil; return }
        // The product form where it gives every byte of the tables, else the division form.
        computed = [LeakyCodesKernel.Form.products, .division].lazy.compactMap {
            LeakyCodesKernel(channels: channels, scaleIn: x.scale, zeroIn: x.zeroPoint, slopes: slopes, scalesOut: yScales,
                             zeroOut: y.zeroPoint, form: $0)
        }.first { $0.tables() == bytes }
    }

    /// `count` codes (whole pixels of `channels` codes where there are tables per channel) from
    /// `x` to `y` (which may be `x`), on `isa`'s kernels.
    func apply(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<UInt8>, count: Int, isa: ISA) {
        let channels = channels
        if channels > 1, let computed {
            computed.run(x, output: y, pixels: count / channels, isa: isa)
            return
        }
        bytes.withUnsafeBufferPointer { lut in
            guard let l = lut.baseAddress else { return }
            if channels == 1 {
                QuantizedLookupKernel.run(x, table: l, output: y, count: count, isa: isa)
            } else {
                QuantizedLookupKernel.run(x, channelTables: l, output: y, pixels: count / channels, channels: channels)
            }
        }
    }

    /// The specification: `y[i] = bytes[(i % channels)·256 + x[i]]`.
    func reference(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeMutableBufferPointer<UInt8>) {
        let channels = channels
        for i in 0..<x.count { y[i] = bytes[(i % channels) * 256 + Int(x[i])] }
    }
}
