import Foundation
import OctetCore
import OctetKernels

/// Plain-Swift implementations of the INT8 steps, following `Int8Arithmetic` to the letter.
enum Int8Kernels {
    static func execute(_ step: Int8Step, _ u8: inout [[UInt8]], _ f: inout [[Float]]) {
        switch step {
        case .quantize(let src, let dst, let params):
            u8[dst] = f[src].map { params.quantize($0) }
        case .requantize(let src, let dst, let m, let zIn, let zOut):
            u8[dst] = u8[src].map { Int8Arithmetic.requantize(Int32($0) - zIn, m, zeroPoint: zOut, lo: 0, hi: 255) }
        case .dequantize(let src, let dst, let p):
            f[dst] = u8[src].map { (Float(Int32($0) - p.zeroPoint)) * p.scale }
        case .relayoutU8(let src, let dst, let inShape, let outShape):
            u8[dst] = Layouts.fromRowMajor(Layouts.toRowMajor(u8[src], shape: inShape), shape: outShape)
        case .relayoutFloat(let src, let dst, let inShape, let outShape):
            f[dst] = Layouts.fromRowMajor(Layouts.toRowMajor(f[src], shape: inShape), shape: outShape)
        case .conv(let c):
            conv(c, &u8, &f)
        case .floatConv(let k, let src, let dst):
            let scratch = AlignedBuffer(count: k.scratchCount)
            var out = [Float](repeating: 0, count: k.geometry.outPixels * k.geometry.outPixelStride)
            f[src].withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { k.run(input: x.baseAddress!, output: $0.baseAddress!, pixels: 0..<k.geometry.outPixels, scratch: scratch.pointer) }
            }
            f[dst] = out
        case .add(let a, let b, let dst, let ma, let za, let mb, let zb, let zy, let lo, let hi):
            let x = u8[a], y = u8[b]
            var out = [UInt8](repeating: 0, count: x.count)
            for i in 0..<x.count {
                let v = Float(Int32(x[i]) - za) * ma + Float(Int32(y[i]) - zb) * mb
                out[i] = UInt8(min(max(Int8Arithmetic.toInt32(v) &+ zy, lo), hi))
            }
            u8[dst] = out
        case .maxPool(let src, let dst, let w):
            u8[dst] = pool(u8[src], w) { values, _ in values.max() ?? 0 }
        case .averagePool(let src, let dst, let w, let zIn, let ratio, let zOut, let include):
            u8[dst] = pool(u8[src], w) { values, padded in
                let sum = values.reduce(Int32(0)) { $0 + Int32($1) - zIn }
                let n = include ? padded : values.count
                let m = Float(ratio / Double(max(n, 1)))
                return Int8Arithmetic.requantize(sum, m, zeroPoint: zOut, lo: 0, hi: 255)
            }
        case .clampFloat(let src, let dst, let lo, let hi):
            f[dst] = f[src].map { min(max($0, lo), hi) }
        case .softmaxFloat(let src, let dst, let rows, let columns):
            var out = f[src]
            for r in 0..<rows {
                let row = out[(r * columns)..<((r + 1) * columns)]
                let m = row.max() ?? 0
                let e = row.map { expf($0 - m) }
                let s = e.reduce(0, +)
                for (j, v) in e.enumerated() { out[r * columns + j] = v / s }
            }
            f[dst] = out
        }
    }

    /// Applies `reduce` to the in-image values of each window (NHWC), with the number of taps
    /// inside the padded bounds.
    static func pool(_ x: [UInt8], _ w: PoolWindow, _ reduce: ([UInt8], Int) -> UInt8) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: w.outH * w.outW * w.channels)
        var window: [UInt8] = []
        window.reserveCapacity(w.kh * w.kw)
        for oy in 0..<w.outH {
            for ox in 0..<w.outW {
                for c in 0..<w.channels {
                    window.removeAll(keepingCapacity: true)
                    var padded = 0
                    for ky in 0..<w.kh {
                        let iy = oy * w.sh - w.padTop + ky
                        for kx in 0..<w.kw {
                            let ix = ox * w.sw - w.padLeft + kx
                            if iy >= -w.padTop && iy < w.inH + w.padBottom && ix >= -w.padLeft && ix < w.inW + w.padRight { padded += 1 }
                            guard iy >= 0, iy < w.inH, ix >= 0, ix < w.inW else { continue }
                            window.append(x[(iy * w.inW + ix) * w.channels + c])
                        }
                    }
                    out[(oy * w.outW + ox) * w.channels + c] = reduce(window, padded)
                }
            }
        }
        return out
    }

    static func conv(_ c: ConvInt8, _ u8: inout [[UInt8]], _ f: inout [[Float]]) {
        if let k = c.fast {
            let pixels = c.outH * c.outW
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(k.scratchBytes, 64), alignment: 64)
            defer { scratch.deallocate() }
            switch c.output {
            case .quantized(let slot, _, _, _, _):
                var out = [UInt8](repeating: 0, count: pixels * c.outC)
                u8[c.input].withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBytes { k.run(input: x.baseAddress!, output: $0.baseAddress!, pixels: 0..<pixels, scratch: scratch) }
                }
                u8[slot] = out
            case .float(let slot, _, _, _):
                var out = [Float](repeating: 0, count: pixels * c.outC)
                u8[c.input].withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBytes { k.run(input: x.baseAddress!, output: $0.baseAddress!, pixels: 0..<pixels, scratch: scratch) }
                }
                f[slot] = out
            }
            return
        }
        let cpg = c.inC / c.groups, opg = c.outC / c.groups, taps = c.kh * c.kw
        var acc = [Int32](repeating: 0, count: c.outH * c.outW * c.outC)
        if cpg == 1 && opg == 1 {
            depthwise(c, u8[c.input], &acc)
            finish(c, acc, &u8, &f)
            return
        }
        u8[c.input].withUnsafeBufferPointer { x in
            c.weights.withUnsafeBufferPointer { w in
                c.tapSums.withUnsafeBufferPointer { sums in
                    acc.withUnsafeMutableBufferPointer { a in
                        for oy in 0..<c.outH {
                            for ox in 0..<c.outW {
                                let p = oy * c.outW + ox
                                for o in 0..<c.outC {
                                    let g = o / opg
                                    var s = c.bias[o]
                                    for ky in 0..<c.kh {
                                        let iy = oy * c.sh - c.padTop + ky * c.dh
                                        if iy < 0 || iy >= c.inH { continue }
                                        for kx in 0..<c.kw {
                                            let ix = ox * c.sw - c.padLeft + kx * c.dw
                                            if ix < 0 || ix >= c.inW { continue }
                                            let tap = ky * c.kw + kx
                                            let xp = x.baseAddress! + (iy * c.inW + ix) * c.inC + g * cpg
                                            let wp = w.baseAddress! + (o * taps + tap) * cpg
                                            var dot: Int32 = 0
                                            for k in 0..<cpg { dot &+= Int32(xp[k]) &* Int32(wp[k]) }
                                            s &+= dot &- c.inputZero &* sums[o * taps + tap]
                                        }
                                    }
                                    a[p * c.outC + o] = s
                                }
                            }
                        }
                    }
                }
            }
        }
        finish(c, acc, &u8, &f)
    }

    /// Depthwise convolution, vectorizable over the contiguous channels of NHWC.
    /// Weights are [channel][tap] (the generic layout with one input channel per group).
    static func depthwise(_ c: ConvInt8, _ input: [UInt8], _ acc: inout [Int32]) {
        let taps = c.kh * c.kw, ch = c.outC
        var wt = [Int32](repeating: 0, count: taps * ch)   // [tap][channel]
        for o in 0..<ch { for t in 0..<taps { wt[t * ch + o] = Int32(c.weights[o * taps + t]) } }
        input.withUnsafeBufferPointer { x in
            wt.withUnsafeBufferPointer { w in
                acc.withUnsafeMutableBufferPointer { a in
                    for oy in 0..<c.outH {
                        for ox in 0..<c.outW {
                            let ap = a.baseAddress! + (oy * c.outW + ox) * ch
                            for o in 0..<ch { ap[o] = c.bias[o] }
                            for ky in 0..<c.kh {
                                let iy = oy * c.sh - c.padTop + ky * c.dh
                                if iy < 0 || iy >= c.inH { continue }
                                for kx in 0..<c.kw {
                                    let ix = ox * c.sw - c.padLeft + kx * c.dw
                                    if ix < 0 || ix >= c.inW { continue }
                                    let xp = x.baseAddress! + (iy * c.inW + ix) * ch
                                    let wp = w.baseAddress! + (ky * c.kw + kx) * ch
                                    for o in 0..<ch { ap[o] &+= (Int32(xp[o]) &- c.inputZero) &* wp[o] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func finish(_ c: ConvInt8, _ acc: [Int32], _ u8: inout [[UInt8]], _ f: inout [[Float]]) {
        switch c.output {
        case .quantized(let slot, let m, let zp, let lo, let hi):
            var out = [UInt8](repeating: 0, count: acc.count)
            for i in 0..<acc.count { out[i] = Int8Arithmetic.requantize(acc[i], m[i % c.outC], zeroPoint: zp, lo: lo, hi: hi) }
            u8[slot] = out
        case .float(let slot, let scales, let lo, let hi):
            f[slot] = acc.indices.map { min(max(Float(acc[$0]) * scales[$0 % c.outC], lo), hi) }
        }
    }
}
