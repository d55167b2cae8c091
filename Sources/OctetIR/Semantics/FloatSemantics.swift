import Foundation
import OctetCore

/// Reference definitions of the ONNX float operators that are not data movement: Resize,
/// reductions, (log-)softmax, layer and instance normalization and batched MatMul, on
/// row-major buffers. The FP32 runtime runs these for ops without a SIMD kernel; the
/// constant folder runs them on constants.
public enum FloatSemantics {
    // MARK: Resize

    /// One axis of a Resize: for each output coordinate the two source indices and the weight
    /// of the second (nearest: both indices equal, weight 0).
    public struct ResizeAxis: Hashable, Sendable {
        public var lower: [Int]
        public var upper: [Int]
        public var weight: [Float]
    }

    /// Source coordinates of one axis (ONNX Resize, `coordinate_transformation_mode` and
    /// `nearest_mode`), for an input of `input` resized to `output` with `scale`.
    public static func resizeAxis(input: Int, output: Int, scale: Float, _ a: ResizeAttributes) -> ResizeAxis {
        var lower = [Int](repeating: 0, count: output), upper = lower
        var weight = [Float](repeating: 0, count: output)
        for x in 0..<output {
            let xf = Float(x)
            var c: Float
            switch a.coordinateTransform {
            case .halfPixel: c = (xf + 0.5) / scale - 0.5
            case .pytorchHalfPixel: c = output > 1 ? (xf + 0.5) / scale - 0.5 : 0
            case .alignCorners: c = output == 1 ? 0 : xf * Float(input - 1) / Float(output - 1)
            case .asymmetric: c = xf / scale
            case .tfHalfPixelForNN: c = (xf + 0.5) / scale
            case .halfPixelSymmetric:
                let adjustment = Float(output) / (scale * Float(input))
                let center = Float(input) / 2
                c = center * (1 - adjustment) + (xf + 0.5) / scale - 0.5
            }
            switch a.mode {
            case .nearest:
                var i: Float
                switch a.nearestMode {
                case .roundPreferFloor: i = c == c.rounded(.down) + 0.5 ? c.rounded(.down) : c.rounded()
                case .roundPreferCeil: i = c == c.rounded(.down) + 0.5 ? c.rounded(.up) : c.rounded()
                case .floor: i = c.rounded(.down)
                case .ceil: i = c.rounded(.up)
                }
                let j = Int(Swift.min(Swift.max(i, 0), Float(input - 1)))
                lower[x] = j; upper[x] = j
            case .linear:
                c = Swift.min(Swift.max(c, 0), Float(input - 1))
                let j = Int(c.rounded(.down))
                lower[x] = j
                upper[x] = Swift.min(j + 1, input - 1)
                weight[x] = c - Float(j)
            }
        }
        return ResizeAxis(lower: lower, upper: upper, weight: weight)
    }

    /// Resizes the last two axes of `[outer, h, w]`: nearest copies, linear is bilinear.
    public static func resize2D(_ x: UnsafePointer<Float>, outer: Int, inHeight: Int, inWidth: Int,
                                rows: ResizeAxis, columns: ResizeAxis, into y: UnsafeMutablePointer<Float>) {
        let oh = rows.lower.count, ow = columns.lower.count
        for o in 0..<outer {
            let src = x + o * inHeight * inWidth, dst = y + o * oh * ow
            for r in 0..<oh {
                let r0 = src + rows.lower[r] * inWidth, r1 = src + rows.upper[r] * inWidth, wr = rows.weight[r]
                let d = dst + r * ow
                if wr == 0 {
                    for c in 0..<ow {
                        let a = r0[columns.lower[c]], b = r0[columns.upper[c]], wc = columns.weight[c]
                        d[c] = wc == 0 ? a : a + (b - a) * wc
                    }
                } else {
                    for c in 0..<ow {
                        let wc = columns.weight[c], l = columns.lower[c], u = columns.upper[c]
                        let top = r0[l] + (r0[u] - r0[l]) * wc
                        let bottom = r1[l] + (r1[u] - r1[l]) * wc
                        d[c] = top + (bottom - top) * wr
                    }
                }
            }
        }
    }

    /// `resize2D` of one channels-last image (`inHeight × inWidth` pixels of `channels` values):
    /// the same arithmetic on each element, so the same bits, with the channels of a pixel
    /// contiguous.
    public static func resize2DChannelsLast(_ x: UnsafePointer<Float>, inHeight: Int, inWidth: Int, channels: Int,
                                            rows: ResizeAxis, columns: ResizeAxis, into y: UnsafeMutablePointer<Float>) {
        let oh = rows.lower.count, ow = columns.lower.count, rowFloats = inWidth * channels
        for r in 0..<oh {
            let r0 = x + rows.lower[r] * rowFloats, r1 = x + rows.upper[r] * rowFloats, wr = rows.weight[r]
            for c in 0..<ow {
                let wc = columns.weight[c], l = columns.lower[c] * channels, u = columns.upper[c] * channels
                let d = y + (r * ow + c) * channels
                if wr == 0 {
                    if wc == 0 {
                        d.update(from: r0 + l, count: channels)
                    } else {
                        for ch in 0..<channels { let a = r0[l + ch], b = r0[u + ch]; d[ch] = a + (b - a) * wc }
                    }
                } else {
                    for ch in 0..<channels {
                        let top = r0[l + ch] + (r0[u + ch] - r0[l + ch]) * wc
                        let bottom = r1[l + ch] + (r1[u + ch] - r1[l + ch]) * wc
                        d[ch] = top + (bottom - top) * wr
                    }
                }
            }
        }
    }

    // MARK: Reductions

    /// Reduces a row-major tensor over `axes` (already normalized) into the kept shape.
    public static func reduce(_ kind: ReduceKind, _ x: UnsafePointer<Float>, shape: Shape, axes: Set<Int>,
                              into y: UnsafeMutablePointer<Float>) {
        let rank = shape.rank
        let keptDims = (0..<rank).map { axes.contains($0) ? 1 : shape[$0] }
        let outCount = keptDims.reduce(1, *)
        let outStrides = Shape(keptDims).strides
        var acc = [Double](repeating: 0, count: outCount)
        switch kind {
        case .max: acc = Array(repeating: -.infinity, count: outCount)
        case .min: acc = Array(repeating: .infinity, count: outCount)
        case .prod: acc = Array(repeating: 1, count: outCount)
        default: break
        }
        let total = shape.elementCount
        var index = [Int](repeating: 0, count: rank)
        var o = 0
        for i in 0..<total {
            let v = Double(x[i])
            switch kind {
            case .mean, .sum: acc[o] += v
            case .max: acc[o] = v.isNaN || acc[o].isNaN ? .nan : Swift.max(acc[o], v)
            case .min: acc[o] = v.isNaN || acc[o].isNaN ? .nan : Swift.min(acc[o], v)
            case .l2, .sumSquare: acc[o] += v * v
            case .l1: acc[o] += Swift.abs(v)
            case .prod: acc[o] *= v
            }
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if !axes.contains(d) { o += outStrides[d] }
                if index[d] < shape[d] { break }
                if !axes.contains(d) { o -= outStrides[d] * shape[d] }
                index[d] = 0
                d -= 1
            }
        }
        let n = Double(total / Swift.max(outCount, 1))
        for i in 0..<outCount {
            switch kind {
            case .mean: y[i] = Float(acc[i] / n)
            case .l2: y[i] = Float(acc[i].squareRoot())
            default: y[i] = Float(acc[i])
            }
        }
    }

    // MARK: Softmax

    /// Softmax (or log-softmax) over the middle axis of `[outer, n, inner]`, stable by subtracting the max.
    public static func softmax(_ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int, log: Bool,
                               into y: UnsafeMutablePointer<Float>) {
        for o in 0..<outer {
            for i in 0..<inner {
                let start = o * n * inner + i
                var m = -Float.infinity
                for k in 0..<n { m = Swift.max(m, x[start + k * inner]) }
                var sum: Float = 0
                for k in 0..<n { sum += Foundation.exp(x[start + k * inner] - m) }
                if log {
                    let ls = Foundation.log(sum)
                    for k in 0..<n { y[start + k * inner] = x[start + k * inner] - m - ls }
                } else {
                    for k in 0..<n { y[start + k * inner] = Foundation.exp(x[start + k * inner] - m) / sum }
                }
            }
        }
    }

    // MARK: Normalization

    /// y = (x - mean) / sqrt(var + eps) * scale + bias over rows of `inner` elements; `scale` and
    /// `bias` have `inner` elements (LayerNormalization) — statistics in Double.
    public static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, inner: Int, epsilon: Float,
                                 scale: UnsafePointer<Float>, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let (mean, inv) = statistics(x + r * inner, count: inner, epsilon: epsilon)
            for i in 0..<inner {
                let v = (x[r * inner + i] - mean) * inv * scale[i]
                y[r * inner + i] = bias.map { v + $0[i] } ?? v
            }
        }
    }

    /// InstanceNormalization of `[n, c, spatial]`: per image and channel over its spatial elements.
    public static func instanceNorm(_ x: UnsafePointer<Float>, images: Int, channels: Int, spatial: Int, epsilon: Float,
                                    scale: UnsafePointer<Float>, bias: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        for b in 0..<images {
            for c in 0..<channels {
                let base = (b * channels + c) * spatial
                let (mean, inv) = statistics(x + base, count: spatial, epsilon: epsilon)
                for i in 0..<spatial { y[base + i] = (x[base + i] - mean) * inv * scale[c] + bias[c] }
            }
        }
    }

    static func statistics(_ x: UnsafePointer<Float>, count: Int, epsilon: Float) -> (mean: Float, invStd: Float) {
        var sum = 0.0
        for i in 0..<count { sum += Double(x[i]) }
        let mean = sum / Double(Swift.max(count, 1))
        var sq = 0.0
        for i in 0..<count { let d = Double(x[i]) - mean; sq += d * d }
        let variance = sq / Double(Swift.max(count, 1))
        return (Float(mean), Float(1 / (variance + Double(epsilon)).squareRoot()))
    }

    // MARK: MatMul

    /// Batched row-major matrix products: `batch` pairs of [m, k] × [k, n], with `aBatchStride`
    /// / `bBatchStride` 0 for a broadcast operand.
    public static func matMul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, batch: Int, m: Int, k: Int, n: Int,
                              aBatchStride: Int, bBatchStride: Int, into y: UnsafeMutablePointer<Float>) {
        for t in 0..<batch {
            let pa = a + t * aBatchStride, pb = b + t * bBatchStride, py = y + t * m * n
            for i in 0..<m {
                let row = py + i * n
                for j in 0..<n { row[j] = 0 }
                for p in 0..<k {
                    let av = pa[i * k + p]
                    let brow = pb + p * n
                    for j in 0..<n { row[j] += av * brow[j] }
                }
            }
        }
    }
}
