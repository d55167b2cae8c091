import OctetKernels

/// Antialiased bilinear resampling of 8-bit RGB images, matching Pillow's
/// `Image.resize(size, Image.BILINEAR)` (the filter torchvision's `Resize` uses on PIL images):
/// a triangle filter widened by the downscale factor, separable, horizontal pass first,
/// coefficients in 22-bit fixed point, rounding and clamping to 8 bits after each pass
/// (Pillow `libImaging/Resample.c`).
///
/// `resize(_:width:height:region:)` computes only a window of the resized image (a centre
/// crop's), and only the source rows that window needs, as Pillow does for its `box`: each
/// output pixel depends on its own coefficients alone, so the window's bytes are those of the
/// full resize. Both passes run on the C kernels (`ResampleKernel`: AVX2 or the scalar twin, the
/// same bytes). `referenceResize` is the plain full resize in Swift, kept as the specification
/// the fast path is tested against.
public enum Resampler {
    static let precisionBits = 32 - 8 - 2

    /// The taps of one output position: the first input position, how many follow, and their
    /// fixed-point weights. Weights are non-negative and sum to about 2^22, so a sum of 8-bit
    /// pixels times weights stays below 2^31 (Pillow accumulates in `int` too).
    struct Coefficients {
        var bounds: [(start: Int, count: Int)]
        var weights: [[Int32]]
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        coefficients(inSize: inSize, outSize: outSize, range: 0..<outSize)
    }

    /// The coefficients of output positions `range` only.
    static func coefficients(inSize: Int, outSize: Int, range: Range<Int>) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale
        var bounds: [(Int, Int)] = []
        var weights: [[Int32]] = []
        bounds.reserveCapacity(range.count)
        weights.reserveCapacity(range.count)
        for xx in range {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var k = [Double](repeating: 0, count: max(xmax, 0))
            var total = 0.0
            for x in 0..<max(xmax, 0) {
                let t = abs((Double(x + xmin) - center + 0.5) * ss)
                let w = t < 1 ? 1 - t : 0
                k[x] = w
                total += w
            }
            let fixed = k.map { w -> Int32 in
                let v = total == 0 ? 0 : w / total
                return Int32(v < 0 ? v * Double(1 << precisionBits) - 0.5 : v * Double(1 << precisionBits) + 0.5)
            }
            bounds.append((xmin, max(xmax, 0)))
            weights.append(fixed)
        }
        return Coefficients(bounds: bounds, weights: weights)
    }

    @inline(__always) static func clip8(_ v: Int64) -> UInt8 {
        let s = v >> Int64(precisionBits)
        return s <= 0 ? 0 : (s >= 255 ? 255 : UInt8(s))
    }

    /// Resizes `image` to `width × height`.
    public static func resize(_ image: RGBImage, width: Int, height: Int, isa: ISA = .best) -> RGBImage {
        resize(image, width: width, height: height, region: (x: 0, y: 0, width: width, height: height), isa: isa)
    }

    /// The `region` of `image` resized to `width × height`: the same bytes as cropping the full
    /// resize, at the cost of the region alone. The region must lie inside `width × height`.
    /// `isa`: the kernel path (every path gives the same bytes).
    public static func resize(_ image: RGBImage, width: Int, height: Int,
                              region: (x: Int, y: Int, width: Int, height: Int), isa: ISA = .best) -> RGBImage {
        precondition(region.x >= 0 && region.y >= 0 && region.width >= 0 && region.height >= 0
                     && region.x + region.width <= width && region.y + region.height <= height, "internal: resize region")
        let needH = width != image.width, needV = height != image.height
        // Rows of the source the vertical pass reads (all of the region's rows without one).
        let vc = needV ? coefficients(inSize: image.height, outSize: height, range: region.y..<(region.y + region.height)) : nil
        let rowLo = vc.map { c in c.bounds.map(\.start).min() ?? 0 } ?? region.y
        let rowHi = vc.map { c in c.bounds.map { $0.start + $0.count }.max() ?? 0 } ?? (region.y + region.height)
        // Horizontal pass over the needed rows and the region's columns.
        let hw = region.width
        var rows = [UInt8](repeating: 0, count: hw * max(rowHi - rowLo, 0) * 3)
        image.pixels.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { dst in
                if needH {
                    horizontal(src.baseAddress!, srcWidth: image.width, rows: rowLo..<rowHi,
                               c: coefficients(inSize: image.width, outSize: width, range: region.x..<(region.x + hw)), into: dst.baseAddress!, isa: isa)
                } else {
                    for (k, y) in (rowLo..<rowHi).enumerated() {
                        let from = src.baseAddress! + (y * image.width + region.x) * 3
                        (dst.baseAddress! + k * hw * 3).update(from: from, count: hw * 3)
                    }
                }
            }
        }
        guard let vc else { return RGBImage(width: hw, height: region.height, pixels: rows) }
        var out = [UInt8](repeating: 0, count: hw * region.height * 3)
        rows.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                vertical(src.baseAddress!, rowBytes: hw * 3, firstRow: rowLo, c: vc, into: dst.baseAddress!, isa: isa)
            }
        }
        return RGBImage(width: hw, height: region.height, pixels: out)
    }

    /// Horizontal pass: `rows` of the source, each to `c.bounds.count` output pixels.
    static func horizontal(_ src: UnsafePointer<UInt8>, srcWidth: Int, rows: Range<Int>, c: Coefficients,
                           into dst: UnsafeMutablePointer<UInt8>, isa: ISA) {
        let outWidth = c.bounds.count
        // Every output reads `taps` pixels (zero weights past its own): its start moves left
        // where that would pass the row's end, its weights right by as much. Tap-major weights.
        // (Every output has at least one tap; without any, each byte would round to 0.)
        let taps = c.bounds.map(\.count).max() ?? 0
        guard outWidth > 0, !rows.isEmpty else { return }
        guard taps > 0 else {
            dst.initialize(repeating: 0, count: rows.count * outWidth * 3)
            return
        }
        var start = [Int32](repeating: 0, count: outWidth)
        var flat = [Int32](repeating: 0, count: taps * outWidth)
        for (x, (first, count)) in c.bounds.enumerated() {
            let shifted = min(first, srcWidth - taps)
            start[x] = Int32(shifted)
            for i in 0..<count { flat[(first - shifted + i) * outWidth + x] = c.weights[x][i] }
        }
        start.withUnsafeBufferPointer { s in
            flat.withUnsafeBufferPointer { k in
                ResampleKernel.rows(src + rows.lowerBound * srcWidth * 3, rows: rows.count, rowPixels: srcWidth, srcStride: srcWidth * 3,
                                    start: s.baseAddress!, weights: k.baseAddress!, taps: taps, outPixels: outWidth,
                                    into: dst, outStride: outWidth * 3, isa: isa)
            }
        }
    }

    /// Vertical pass: each output row is a weighted sum of whole source rows (`firstRow` is the
    /// source row at `src`), over contiguous bytes.
    static func vertical(_ src: UnsafePointer<UInt8>, rowBytes: Int, firstRow: Int, c: Coefficients,
                         into dst: UnsafeMutablePointer<UInt8>, isa: ISA) {
        for (y, (start, count)) in c.bounds.enumerated() {
            c.weights[y].withUnsafeBufferPointer { k in
                guard let weights = k.baseAddress else {
                    // No taps: every byte is the rounding constant alone, which clips to 0.
                    (dst + y * rowBytes).initialize(repeating: 0, count: rowBytes)
                    return
                }
                ResampleKernel.column(src + (start - firstRow) * rowBytes, stride: rowBytes, weights: weights, taps: count,
                                      count: rowBytes, into: dst + y * rowBytes, isa: isa)
            }
        }
    }

    /// The plain full resize, in 64-bit sums: the specification `resize` is tested against.
    public static func referenceResize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        var current = image
        if width != image.width {
            let c = coefficients(inSize: image.width, outSize: width)
            var out = [UInt8](repeating: 0, count: width * image.height * 3)
            for y in 0..<image.height {
                let row = y * image.width * 3
                for x in 0..<width {
                    let (start, count) = c.bounds[x]
                    let k = c.weights[x]
                    var acc: (Int64, Int64, Int64) = (1 << (precisionBits - 1), 1 << (precisionBits - 1), 1 << (precisionBits - 1))
                    for i in 0..<count {
                        let p = row + (start + i) * 3, w = Int64(k[i])
                        acc.0 += Int64(image.pixels[p]) * w; acc.1 += Int64(image.pixels[p + 1]) * w; acc.2 += Int64(image.pixels[p + 2]) * w
                    }
                    let o = (y * width + x) * 3
                    out[o] = clip8(acc.0); out[o + 1] = clip8(acc.1); out[o + 2] = clip8(acc.2)
                }
            }
            current = RGBImage(width: width, height: image.height, pixels: out)
        }
        if height != current.height {
            let c = coefficients(inSize: current.height, outSize: height)
            var out = [UInt8](repeating: 0, count: width * height * 3)
            let w3 = width * 3
            for y in 0..<height {
                let (start, count) = c.bounds[y]
                let k = c.weights[y]
                for x in 0..<w3 {
                    var acc: Int64 = 1 << (precisionBits - 1)
                    for i in 0..<count { acc += Int64(current.pixels[(start + i) * w3 + x]) * Int64(k[i]) }
                    out[y * w3 + x] = clip8(acc)
                }
            }
            current = RGBImage(width: width, height: height, pixels: out)
        }
        return current
    }
}
