import CKernels

/// PRelu and LeakyRelu on u8 codes, computed on the C kernels instead of looked up:
///
///     out = quantize_out(x < 0 ? x · slope[c] : x),   x = (code − zeroIn) · scaleIn
///
/// with the float operations of the 256-entry tables it replaces (`QuantParams.quantize`:
/// division, round half to even), so it gives those tables' bytes. A table per channel is one
/// dependent scalar load per code; this is 8 or 16 codes per vector on the SIMD paths, which is
/// what pays for PRelu's per-channel slopes (MTCNN). The scalar variant is the specification.
///
/// The `.products` form computes `round((code − zeroIn) · f) + zeroOut` with one product per
/// code, `f = slope · scaleIn / scaleOut` below the zero point and `scaleIn / scaleOut` above: a
/// quarter to a third less time, but one rounding instead of three, so a code whose quotient lies
/// next to a tie can differ from the table. It is used only where `tables()` shows it does not
/// (`CodeTable`): 256 codes per channel are every input it will ever see.
public final class LeakyCodesKernel: Sendable {
    /// How the codes are computed: the tables' float operations, or one product per code.
    public enum Form: Sendable, CaseIterable {
        case division, products
    }

    public let channels: Int
    public let form: Form
    let scaleIn: Float
    let zeroIn: Int32
    let zeroOut: Int32
    /// Lanes of one repeat of the per-channel constants: a multiple of 16 and of `channels`.
    let period: Int
    /// Slope and output scale of element i at [(phase + i) % period], stored over two periods.
    let slopes: [Float]
    let scalesOut: [Float]
    /// The `.products` form's factors below and above the zero point, like `slopes` (empty for `.division`).
    let productsBelow: [Float]
    let productsAbove: [Float]

    /// `slopes` and `scalesOut` each hold one value or one per channel of NHWC codes; nil when
    /// either has another count, or a slope or scale is not finite, or a scale is not positive
    /// (the kernels assume a finite quotient; such a table stays a lookup), or, in the
    /// `.products` form, a factor is not finite.
    public init?(channels: Int, scaleIn: Float, zeroIn: Int32, slopes: [Float], scalesOut: [Float], zeroOut: Int32,
                 form: Form = .division) {
        guard channels >= 1, [1, channels].contains(slopes.count), [1, channels].contains(scalesOut.count),
              scaleIn.isFinite, scaleIn > 0, (0...255).contains(zeroIn), (0...255).contains(zeroOut),
              slopes.allSatisfy(\.isFinite), scalesOut.allSatisfy({ $0.isFinite && $0 > 0 }) else { return nil }
        self.form = form
        self.channels = channels
        self.scaleIn = scaleIn
        self.zeroIn = zeroIn
        self.zeroOut = zeroOut
        var period = channels
        while period % 16 != 0 { period += channels }
        self.period = period
        self.slopes = (0..<(2 * period)).map { slopes.count == 1 ? slopes[0] : slopes[$0 % channels] }
        self.scalesOut = (0..<(2 * period)).map { scalesOut.count == 1 ? scalesOut[0] : scalesOut[$0 % channels] }
        if form == .products {
            let above = self.scalesOut.map { scaleIn / $0 }
            let below = zip(self.slopes, above).map { $0 * $1 }
            guard above.allSatisfy(\.isFinite), below.allSatisfy(\.isFinite) else { return nil }
            (productsBelow, productsAbove) = (below, above)
        } else {
            (productsBelow, productsAbove) = ([], [])
        }
    }

    /// The implementations; each gives the scalar twin's results.
    public typealias Variant = VectorVariant

    /// `pixels` whole pixels of NHWC codes (their first element is channel 0), `x` to `output`
    /// (which may be `x`), with the kernel the path's table chooses.
    public func run(_ x: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>, pixels: Int, isa: ISA) {
        withParams { isa.kernels.pointee.leaky_codes_u8($0, x, output, pixels * channels, 0) }
    }

    /// With one variant forced (tests compare them); `count` elements from element `phase` of a
    /// period (any offset into the NHWC codes, taken modulo `period`).
    public func run(_ x: UnsafePointer<UInt8>, output: UnsafeMutablePointer<UInt8>, count: Int, phase: Int, variant: Variant) {
        let phase = phase % period
        withParams { p in
            switch variant {
            case .scalar: ck_leaky_codes_u8__scalar(p, x, output, count, phase)
            case .avx2: ck_leaky_codes_u8__avx2(p, x, output, count, phase)
            case .avx512: ck_leaky_codes_u8__avx512(p, x, output, count, phase)
            }
        }
    }

    /// The 256 codes of every channel through the scalar variant: `[c·256 + code]`, the layout
    /// of a table per channel (the compiler compares it with the tables it would replace).
    public func tables() -> [UInt8] {
        // Pixel k holds code k in every channel; the results are then transposed to [c·256 + k].
        let nhwc = (0..<(channels * 256)).map { UInt8($0 / channels) }
        var y = [UInt8](repeating: 0, count: channels * 256), out = y
        nhwc.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                run(xb.baseAddress!, output: yb.baseAddress!, count: channels * 256, phase: 0, variant: .scalar)
            }
        }
        for c in 0..<channels { for k in 0..<256 { out[c * 256 + k] = y[k * channels + c] } }
        return out
    }

    private func withParams(_ body: (UnsafePointer<ck_leaky_codes_params>) -> Void) {
        slopes.withUnsafeBufferPointer { s in
            scalesOut.withUnsafeBufferPointer { o in
                productsBelow.withUnsafeBufferPointer { below in
                    productsAbove.withUnsafeBufferPointer { above in
                        // An empty array's base address may be nil or not: the form decides.
                        var p = ck_leaky_codes_params(scale_in: scaleIn, zero_in: zeroIn, zero_out: Float(zeroOut), period: period,
                                                      slope: s.baseAddress, scale_out: o.baseAddress,
                                                      product_neg: form == .products ? below.baseAddress : nil,
                                                      product_pos: form == .products ? above.baseAddress : nil)
                        withUnsafePointer(to: &p) { body($0) }
                    }
                }
            }
        }
    }
}
