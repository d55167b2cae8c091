import Foundation
import OctetKernels

/// A 1×1 convolution whose output only a depthwise convolution reads (the expand and depthwise
/// layers of an inverted-residual block), run together over bands of the depthwise layer's
/// output rows: each band's input rows are computed by the 1×1 layer into a buffer of the
/// worker's scratch and read back by the depthwise layer while they are in cache, so the
/// intermediate map (4.8 MB per image for EfficientNet-Lite0's first expand in FP32) is never
/// written to memory. Rows two bands share (the depthwise windows overlap when the kernel is
/// taller than the stride) are moved to the top of the buffer, not computed again.
///
/// Every value is computed by the same kernels with the same sums as the two steps apart (a 1×1
/// convolution's output pixel depends only on its input pixel; `Conv2DKernel.runDepthwise`
/// keeps each output's taps), so the outputs are the same bits.
final class PointwiseDepthwiseBands: @unchecked Sendable {
    let pointwise: Conv2DKernel
    let depthwise: Conv2DKernel
    /// Depthwise output rows per band.
    let bandRows: Int
    /// Floats of scratch one concurrent caller needs: the 1×1 kernel's, then the band buffer.
    let scratchCount: Int
    private let pointwiseScratch: Int
    /// Floats of one row of the intermediate map.
    private let rowFloats: Int
    /// Rows of the intermediate map the band buffer holds.
    private let bufferRows: Int

    /// Bytes of one band's rows of the intermediate map. Measured on Zen 4 (EfficientNet-Lite0,
    /// alternating runs against the two steps apart; docs/benchmarks.md): 96–384 KB all keep the
    /// first expand's map out of memory; 192 KB with a 4-band buffer was the best of those tried.
    static let bandBytes = 192 * 1024
    /// Bands of rows the buffer holds: the rows two bands share are moved to its top only when
    /// the next band's rows would not fit (with room for one band, every band moved them, which
    /// for 5×5 windows at stride 2 copied more than the step saved).
    static let bufferBands = 4
    /// Intermediate maps smaller than this stay in cache anyway, and over bands the 1×1 layer's
    /// calls get smaller: EfficientNet-Lite0's 28×28×240 and 14×14×672 maps ran slower as one
    /// step, its 112×112×96 map 2.0–2.6× faster, its 56×56×144 map before a 3×3 depthwise
    /// 1.4–1.8× and the one before a 5×5/2 depthwise 0.9–1.2× (the pair's µs, four sets of runs).
    static let minimumMapBytes = 1024 * 1024

    /// The pair as one step, or nil when it does not qualify: `pointwise` a 1×1, stride-1,
    /// unpadded, ungrouped convolution whose output map is at least `minimumMapBytes`,
    /// `depthwise` a depthwise convolution of that map.
    init?(pointwise: Conv2DKernel, depthwise: Conv2DKernel) {
        let p = pointwise.geometry, d = depthwise.geometry
        guard p.kernel == (1, 1), p.stride == (1, 1), p.padTop == 0, p.padLeft == 0, p.groups == 1,
              p.outPixelStride == p.outChannels, p.inHeight == p.outHeight, p.inWidth == p.outWidth,
              d.isDepthwise, d.inHeight == p.outHeight, d.inWidth == p.outWidth, d.inPixelStride == p.outPixelStride,
              d.groups == p.outChannels, d.outHeight > 1 else { return nil }
        rowFloats = p.outWidth * p.outPixelStride
        guard p.outHeight * rowFloats * MemoryLayout<Float>.stride >= Self.minimumMapBytes else { return nil }
        self.pointwise = pointwise
        self.depthwise = depthwise
        let window = (d.kernel.h - 1) * d.dilation.h + 1
        let budgetRows = max(Self.bandBytes / (rowFloats * MemoryLayout<Float>.stride), window)
        bandRows = min(max((budgetRows - window) / d.stride.h + 1, 1), d.outHeight)
        pointwiseScratch = (pointwise.scratchCount + 15) / 16 * 16
        // Room for `bufferBands` interior bands' rows (the first and last are clipped by the padding).
        bufferRows = min(((bandRows - 1) * d.stride.h + window) * Self.bufferBands, d.inHeight)
        scratchCount = pointwiseScratch + bufferRows * rowFloats
    }

    /// Multiply-accumulates for one image.
    var macs: Int { pointwise.geometry.macs + depthwise.geometry.macs }

    /// The depthwise layer's input rows inside the image that output rows `rows` read.
    private static func inputRows(of rows: Range<Int>, _ d: ConvGeometry) -> Range<Int> {
        let window = (d.kernel.h - 1) * d.dilation.h + 1
        let lo = max(0, rows.lowerBound * d.stride.h - d.padTop)
        let hi = min(d.inHeight, (rows.upperBound - 1) * d.stride.h - d.padTop + window)
        return lo..<max(lo, hi)
    }

    /// Computes the depthwise layer's output rows `rows` of one image from the 1×1 layer's input
    /// `input` (the whole image). `scratch` holds `scratchCount` floats, 64-byte aligned.
    func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?,
             rows: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let d = depthwise.geometry, p = pointwise.geometry
        let buffer = scratch + pointwiseScratch
        let inPixels = p.inWidth, inRowFloats = p.inWidth * p.inPixelStride
        // Rows base..<computedEnd of the map are at the buffer's rows 0..<(computedEnd − base).
        // Each band appends its new rows; only when they would not fit are the rows it shares
        // with the previous band moved to the top.
        var base = 0, computedEnd = 0, started = false
        var r0 = rows.lowerBound
        while r0 < rows.upperBound {
            let r1 = min(r0 + bandRows, rows.upperBound)
            let need = Self.inputRows(of: r0..<r1, d)
            if !started || computedEnd <= need.lowerBound || need.upperBound - base > bufferRows {
                if started && computedEnd > need.lowerBound {
                    memmove(buffer, buffer + (need.lowerBound - base) * rowFloats,
                            (computedEnd - need.lowerBound) * rowFloats * MemoryLayout<Float>.stride)
                } else {
                    computedEnd = need.lowerBound
                }
                base = need.lowerBound
                started = true
            }
            let fresh = max(need.lowerBound, computedEnd)..<need.upperBound
            if !fresh.isEmpty {
                pointwise.run(input: input + fresh.lowerBound * inRowFloats, output: buffer + (fresh.lowerBound - base) * rowFloats,
                              pixels: 0..<(fresh.count * inPixels), scratch: scratch)
                computedEnd = fresh.upperBound
            }
            depthwise.runDepthwise(rows: r0..<r1, band: buffer + (need.lowerBound - base) * rowFloats, firstBandRow: need.lowerBound,
                                   bandRowCount: need.count, output: output, residual: residual)
            r0 = r1
        }
    }
}
