/// Antialiased bilinear resampling of 8-bit RGB images, matching Pillow's
/// `Image.resize(size, Image.BILINEAR)` (the filter torchvision's `Resize` uses on PIL images):
/// a triangle filter widened by the downscale factor, separable, horizontal pass first,
/// coefficients in 22-bit fixed point, rounding and clamping to 8 bits after each pass
/// (Pillow `libImaging/Resample.c`).
public enum Resampler {
    static let precisionBits = 32 - 8 - 2

    struct Coefficients {
        var bounds: [(start: Int, count: Int)]
        var weights: [[Int32]]
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale
        var bounds: [(Int, Int)] = []
        var weights: [[Int32]] = []
        for xx in 0..<outSize {
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
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        var current = image
        if width != image.width {
            let c = coefficients(inSize: image.width, outSize: width)
            var out = [UInt8](repeating: 0, count: width * image.height * 3)
            image.pixels.withUnsafeBufferPointer { src in
                for y in 0..<image.height {
                    let row = y * image.width * 3
                    for x in 0..<width {
                        let (start, count) = c.bounds[x]
                        let k = c.weights[x]
                        var acc: (Int64, Int64, Int64) = (1 << (precisionBits - 1), 1 << (precisionBits - 1), 1 << (precisionBits - 1))
                        for i in 0..<count {
                            let p = row + (start + i) * 3, w = Int64(k[i])
                            acc.0 += Int64(src[p]) * w; acc.1 += Int64(src[p + 1]) * w; acc.2 += Int64(src[p + 2]) * w
                        }
                        let o = (y * width + x) * 3
                        out[o] = clip8(acc.0); out[o + 1] = clip8(acc.1); out[o + 2] = clip8(acc.2)
                    }
                }
            }
            current = RGBImage(width: width, height: image.height, pixels: out)
        }
        if height != current.height {
            let c = coefficients(inSize: current.height, outSize: height)
            var out = [UInt8](repeating: 0, count: width * height * 3)
            let w3 = width * 3
            current.pixels.withUnsafeBufferPointer { src in
                for y in 0..<height {
                    let (start, count) = c.bounds[y]
                    let k = c.weights[y]
                    for x in 0..<w3 {
                        var acc: Int64 = 1 << (precisionBits - 1)
                        for i in 0..<count { acc += Int64(src[(start + i) * w3 + x]) * Int64(k[i]) }
                        out[y * w3 + x] = clip8(acc)
                    }
                }
            }
            current = RGBImage(width: width, height: height, pixels: out)
        }
        return current
    }
}
