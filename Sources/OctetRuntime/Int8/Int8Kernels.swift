import Foundation
import OctetCore
import OctetIR
import OctetKernels

/// Plain-Swift implementations of the INT8 steps, following `Int8Arithmetic` to the letter.
enum Int8Kernels {
    /// Multiply-accumulates below which a convolution is not split across threads in latency
    /// mode (a few microseconds of work, left on one thread).
    static let minimumSplitMACs = 1_000_000

    /// Runs one step of one image on its tensors `t` (one image's arena); a `pool` wider than one
    /// thread splits a convolution's output pixels across its threads (latency mode: one image
    /// at a time, all cores on each layer). `scratch`: one 64-byte aligned buffer of at least
    /// `scratchFloats(step)` floats per part (per pool thread), the worker's.
    static func execute(_ step: Int8Step, _ t: Int8Tensors, pool: SpinPool? = nil, scratch: [AlignedBuffer]) {
        switch step {
        case .quantize(let src, let dst, let params, let fast):
            let x = t.floatBuffer(src), y = t.u8Buffer(dst)
            guard let fast else { for i in x.indices { y[i] = params.quantize(x[i]) }; return }
            QuantizeKernel.quantize(x.baseAddress!, scale: params.scale, zeroPoint: params.zeroPoint, output: y.baseAddress!, count: x.count, isa: fast)
        case .quantizeChannels(let src, let dst, let scales, let zeroPoint, let fast):
            let x = t.floatBuffer(src), y = t.u8Buffer(dst)
            let c = max(scales.count, 1)
            guard let fast else {
                // The specification: `QuantParams.quantize` of each element with its channel's scale.
                for i in x.indices { y[i] = QuantParams(scale: scales[i % c], zeroPoint: zeroPoint, dtype: .uint8).quantize(x[i]) }
                return
            }
            QuantizeKernel.quantizeChannels(x.baseAddress!, scales: scales, zeroPoint: zeroPoint, output: y.baseAddress!, pixels: x.count / c, isa: fast)
        case .requantize(let src, let dst, let m, let zIn, let zOut, let fast):
            let x = t.u8Buffer(src), y = t.u8Buffer(dst)
            guard let fast else {
                for i in x.indices { y[i] = Int8Arithmetic.requantize(Int32(x[i]) - zIn, m, zeroPoint: zOut, lo: 0, hi: 255) }
                return
            }
            QuantizeKernel.requantize(x.baseAddress!, zeroIn: zIn, multiplier: m, zeroOut: zOut, output: y.baseAddress!, count: x.count, isa: fast)
        case .dequantize(let src, let dst, let p):
            let x = t.u8Buffer(src), y = t.floatBuffer(dst)
            // Wrapping arithmetic (a code minus a zero point cannot overflow) lets the loop vectorize.
            for i in x.indices { y[i] = Float(Int32(x[i]) &- p.zeroPoint) * p.scale }
        case .col2im(let src, let dst, let geometry, let bias):
            if let bias {
                bias.withUnsafeBufferPointer { b in geometry.scatter(columns: t.float(src), bias: b.baseAddress, into: t.float(dst)) }
            } else {
                geometry.scatter(columns: t.float(src), bias: nil, into: t.float(dst))
            }
        case .padU8(let src, let dst, let shape, let pads, let mode, let code):
            DataMovement.pad(UnsafePointer(t.u8(src)), shape: shape, pads: pads, mode: mode, value: code, into: t.u8(dst))
        case .moveU8(let src, let dst, let view, _, let isa):
            let x = t.u8(src)
            var y = t.u8(dst)
            view.forEachBlock { block, offset in
                if block.inner == 2, block.rowStride == 1, let fast = isa {
                    // Two runs interleaved (a channel shuffle of two groups): the C kernel.
                    InterleaveKernel.run(x + offset, x + offset + block.innerStride, output: y, count: block.rows, isa: fast)
                } else {
                    block.copy(from: x + offset, to: y)
                }
                y += block.rows * block.inner
            }
        case .resizeNearestU8(let src, let dst, let inWidth, let channels, let rows, let columns):
            let x = t.u8(src)
            var y = t.u8(dst)
            for r in rows {
                for c in columns {
                    y.update(from: x + (r * inWidth + c) * channels, count: channels)
                    y += channels
                }
            }
        case .resizeLinearU8(let src, let dst, let kernel, let isa):
            kernel.run(input: t.u8(src), output: t.u8(dst), isa: isa)
        case .relayoutFloat(let src, let dst, let inShape, let outShape):
            let v = Layouts.fromRowMajor(Layouts.toRowMajor(Array(t.floatBuffer(src)), shape: inShape), shape: outShape)
            _ = t.floatBuffer(dst).initialize(from: v)
        case .conv(let c):
            conv(c, t, pool: pool, scratch: scratch)
        case .floatConv(let k, let src, let dst):
            // The kernel writes every output (dense pixels).
            precondition(k.geometry.outPixelStride == k.geometry.outChannels, "internal: FP32 island with strided output")
            let parts = max(1, min(pool?.width ?? 1, k.geometry.outPixels / 64, k.pixelUnits))
            // Addresses cross into the worker closures as integers (raw pointers are not Sendable).
            let xAddress = UInt(bitPattern: t.float(src)), outAddress = UInt(bitPattern: t.float(dst))
            let work: @Sendable (Int) -> Void = { p in
                k.run(input: UnsafePointer(bitPattern: xAddress)!, output: UnsafeMutablePointer(bitPattern: outAddress)!,
                      pixels: k.pixels(part: p, of: parts), scratch: scratch[p].pointer)
            }
            if let pool { pool.run(parts: parts, work) } else { work(0) }
        case .add(let a, let b, let dst, let ma, let za, let mb, let zb, let zy, let lo, let hi, let fast):
            let x = t.u8Buffer(a), y = t.u8Buffer(b), out = t.u8Buffer(dst)
            let c = Int8Arithmetic.addConstant(ma: ma, za: za, mb: mb, zb: zb, zy: zy)
            if let fast {
                QuantizedAddKernel.run(x.baseAddress!, ma, y.baseAddress!, mb, constant: c, lo: lo, hi: hi, output: out.baseAddress!, count: x.count, isa: fast)
                return
            }
            for i in 0..<x.count {
                out[i] = UInt8(min(max(Int8Arithmetic.add(x[i], ma, y[i], mb, constant: c), lo), hi))
            }
        case .maxPool(let src, let dst, let w, let fast):
            guard let fast else { maxPool(UnsafeBufferPointer(t.u8Buffer(src)), w, into: t.u8Buffer(dst)); return }
            let kernel = Pool2DKernel(kind: .max, isa: fast, inHeight: w.inH, inWidth: w.inW, channels: w.channels, outHeight: w.outH,
                                      outWidth: w.outW, kernel: (w.kh, w.kw), stride: (w.sh, w.sw), padTop: w.padTop, padLeft: w.padLeft)
            QuantizedMaxPoolKernel.run(kernel, input: t.u8(src), output: t.u8(dst))
        case .averagePool(let src, let dst, let w, let zIn, let scales, let zOut, let include, let fast):
            averagePool(UnsafeBufferPointer(t.u8Buffer(src)), w, zeroIn: zIn, scales: scales, zeroOut: zOut, countIncludePad: include,
                        into: t.u8Buffer(dst), fast: fast)
        case .spatialMeanFloat(let src, let dst, let pixels, let channels, let z, let scale, let fast):
            let x = t.u8(src), y = t.float(dst)
            // Int32 sums of at most 2^23 pixels (255 · 2^23 < 2^31), added up in Int64.
            var total = [Int64](repeating: 0, count: channels), sums = [Int32](repeating: 0, count: channels)
            sums.withUnsafeMutableBufferPointer { s in
                guard let base = s.baseAddress else { return }
                for start in stride(from: 0, to: pixels, by: 1 << 23) {
                    for c in 0..<channels { s[c] = 0 }
                    addPixels(x + start * channels, pixels: min(1 << 23, pixels - start), channels: channels, into: base, fast: fast)
                    for c in 0..<channels { total[c] += Int64(s[c]) }
                }
            }
            for c in 0..<channels { y[c] = Float(total[c] - Int64(pixels) * Int64(z)) * scale / Float(pixels) }
        case .clampFloat(let src, let dst, let lo, let hi):
            // Swift.max then Swift.min, spelled out so the loop vectorizes (same results, NaN and -0 included).
            let x = t.floatBuffer(src), out = t.floatBuffer(dst)
            for i in 0..<x.count {
                let v = x[i]
                let a = lo >= v ? lo : v
                out[i] = hi < a ? hi : a
            }
        case .softmaxFloat(let src, let dst, let rows, let columns, let fast):
            SoftmaxKernel.run(t.float(src), t.float(dst), outer: rows, n: columns, inner: 1, isa: fast ?? .scalar)
        case .lookup(let src, let dst, let table, _, let fast):
            let x = t.u8Buffer(src), y = t.u8Buffer(dst)
            if let fast, let xp = x.baseAddress, let yp = y.baseAddress {
                table.apply(xp, yp, count: x.count, isa: fast)
            } else {
                table.reference(UnsafeBufferPointer(x), y)
            }
        case .concat(let parts, let dst, let outer, let zeroOut, let fast):
            let y = t.u8(dst)
            let row = parts.reduce(0) { $0 + $1.inner }
            var offset = 0
            for part in parts {
                let x = t.u8(part.slot)
                for r in 0..<outer {
                    let src = x + r * part.inner, out = y + r * row + offset
                    if let m = part.multiplier {
                        if let fast {
                            QuantizeKernel.requantize(src, zeroIn: part.zeroIn, multiplier: m, zeroOut: zeroOut, output: out, count: part.inner, isa: fast)
                        } else {
                            for i in 0..<part.inner {
                                out[i] = Int8Arithmetic.requantize(Int32(src[i]) - part.zeroIn, m, zeroPoint: zeroOut, lo: 0, hi: 255)
                            }
                        }
                    } else {
                        out.update(from: src, count: part.inner)
                    }
                }
                offset += part.inner
            }
        case .mul(let s):
            let a = t.u8Buffer(s.a), b = t.u8Buffer(s.b), y = t.u8Buffer(s.dst)
            if let fast = s.fast, let ap = a.baseAddress, let bp = b.baseAddress, let yp = y.baseAddress {
                QuantizedMulKernel.run(ap, zeroA: s.za, bp, zeroB: s.zb, broadcastB: s.broadcastB, multiplier: s.m, zeroOut: s.zy,
                                       codeOffset: s.codeOffset, lo: s.lo, hi: s.hi, output: yp, pixels: s.pixels, channels: s.channels,
                                       isa: fast)
                return
            }
            for p in 0..<s.pixels {
                for c in 0..<s.channels {
                    let i = p * s.channels + c, j = s.broadcastB ? c : i
                    let product = (Int32(a[i]) - s.za) * (Int32(b[j]) - s.zb)
                    y[i] = Int8Arithmetic.product(product, s.m, zeroPoint: s.zy, offset: s.codeOffset, lo: s.lo, hi: s.hi)
                }
            }
        case .island:
            // Runs as the plan's `Step.floatIsland` (it needs the worker's step executor).
            break
        }
    }

    /// Floats of scratch one part of `step` needs (the C convolution kernels' im2col rows).
    static func scratchFloats(_ step: Int8Step) -> Int {
        switch step {
        case .conv(let c): (max(c.fast?.scratchBytes ?? 0, c.acrossImages?.scratchBytes ?? 0) + 3) / 4
        case .floatConv(let k, _, _): k.scratchCount
        case .island(let i): i.plan.scratchCount
        default: 0
        }
    }

    /// The in-image taps of output pixel (oy, ox) and the number of taps inside the padded bounds.
    @inline(__always)
    static func window(_ w: PoolWindow, _ oy: Int, _ ox: Int) -> (ys: Range<Int>, xs: Range<Int>, padded: Int) {
        let y0 = oy * w.sh - w.padTop, x0 = ox * w.sw - w.padLeft
        let py = max(y0, -w.padTop)..<min(y0 + w.kh, w.inH + w.padBottom)
        let px = max(x0, -w.padLeft)..<min(x0 + w.kw, w.inW + w.padRight)
        return (max(y0, 0)..<min(y0 + w.kh, w.inH), max(x0, 0)..<min(x0 + w.kw, w.inW), py.count * px.count)
    }

    /// Max of the u8 codes over each window's in-image taps (NHWC, vectorizable over channels).
    static func maxPool(_ x: UnsafeBufferPointer<UInt8>, _ w: PoolWindow, into dst: UnsafeMutableBufferPointer<UInt8>) {
        let c = w.channels
        guard let src = x.baseAddress, let out = dst.baseAddress else { return }
        for oy in 0..<w.outH {
            for ox in 0..<w.outW {
                let (ys, xs, _) = window(w, oy, ox)
                let o = out + (oy * w.outW + ox) * c
                o.initialize(repeating: 0, count: c)
                for iy in ys { for ix in xs {
                    let p = src + (iy * w.inW + ix) * c
                    for ch in 0..<c { o[ch] = max(o[ch], p[ch]) }
                } }
            }
        }
    }

    /// Sum of (x − z_x) over each window, requantized with `Int8Arithmetic.averageMultiplier`.
    /// The average of each window's in-image codes, requantized. The window sums are added by
    /// `fast`'s sum kernel a window row at a time (a whole map when the window spans the width),
    /// or without a path by the loop here, which is the specification.
    static func averagePool(_ x: UnsafeBufferPointer<UInt8>, _ w: PoolWindow, zeroIn: Int32, scales: AverageScales, zeroOut: Int32,
                            countIncludePad: Bool, into out: UnsafeMutableBufferPointer<UInt8>, fast: ISA? = nil) {
        let c = w.channels
        guard let src = x.baseAddress else { return }
        if min(w.kh, w.inH) * min(w.kw, w.inW) > maximumInt32Taps {
            wideAveragePool(src, w, zeroIn: zeroIn, scales: scales, zeroOut: zeroOut, countIncludePad: countIncludePad, into: out, fast: fast)
            return
        }
        if let fast, w.outH == 1, w.outW == 1, let dst = out.baseAddress {
            let (ys, xs, padded) = window(w, 0, 0)
            if ys.count == w.inH, xs.count == w.inW {
                // A global pool (a squeeze-excitation's squeeze): sums and requantization in one
                // kernel, the arithmetic of the loop below.
                let n = countIncludePad ? padded : ys.count * xs.count
                PixelSumKernel.mean(src, pixels: ys.count * xs.count, channels: c, zeroIn: zeroIn,
                                    multiplier: scales.multiplier(taps: n), zeroOut: zeroOut, into: dst, isa: fast)
                return
            }
        }
        var sums = [Int32](repeating: 0, count: c)
        for oy in 0..<w.outH {
            for ox in 0..<w.outW {
                let (ys, xs, padded) = window(w, oy, ox)
                for ch in 0..<c { sums[ch] = 0 }
                sums.withUnsafeMutableBufferPointer { s in
                    guard let base = s.baseAddress, !ys.isEmpty, !xs.isEmpty else { return }
                    if xs.count == w.inW {
                        addPixels(src + ys.lowerBound * w.inW * c, pixels: ys.count * w.inW, channels: c, into: base, fast: fast)
                    } else {
                        for iy in ys { addPixels(src + (iy * w.inW + xs.lowerBound) * c, pixels: xs.count, channels: c, into: base, fast: fast) }
                    }
                }
                let n = countIncludePad ? padded : ys.count * xs.count
                let m = scales.multiplier(taps: n)
                let taps = Int32(ys.count * xs.count)
                for ch in 0..<c {
                    out[(oy * w.outW + ox) * c + ch] = Int8Arithmetic.requantize(sums[ch] &- taps &* zeroIn, m, zeroPoint: zeroOut, lo: 0, hi: 255)
                }
            }
        }
    }

    /// The most taps whose sum of codes fits Int32 without wrapping (255 · 2^23 < 2^31).
    static let maximumInt32Taps = 1 << 23

    /// `averagePool` for windows that may hold more than `maximumInt32Taps` in-image taps (a
    /// global pool over a map of 3000 × 3000): the sums are added `maximumInt32Taps` pixels at a
    /// time into Int64, so they never wrap, and requantized as `averagePool` does (the Float of
    /// an exact sum is the same whether it was added in Int32 or Int64).
    static func wideAveragePool(_ src: UnsafePointer<UInt8>, _ w: PoolWindow, zeroIn: Int32, scales: AverageScales, zeroOut: Int32,
                                countIncludePad: Bool, into out: UnsafeMutableBufferPointer<UInt8>, fast: ISA?) {
        let c = w.channels
        var sums = [Int32](repeating: 0, count: c), totals = [Int64](repeating: 0, count: c)
        func add(_ x: UnsafePointer<UInt8>, pixels: Int) {
            sums.withUnsafeMutableBufferPointer { s in
                guard let base = s.baseAddress else { return }
                for start in stride(from: 0, to: pixels, by: maximumInt32Taps) {
                    for ch in 0..<c { base[ch] = 0 }
                    addPixels(x + start * c, pixels: min(maximumInt32Taps, pixels - start), channels: c, into: base, fast: fast)
                    for ch in 0..<c { totals[ch] += Int64(base[ch]) }
                }
            }
        }
        for oy in 0..<w.outH {
            for ox in 0..<w.outW {
                let (ys, xs, padded) = window(w, oy, ox)
                for ch in 0..<c { totals[ch] = 0 }
                if !xs.isEmpty { for iy in ys { add(src + (iy * w.inW + xs.lowerBound) * c, pixels: xs.count) } }
                let n = countIncludePad ? padded : ys.count * xs.count
                let m = scales.multiplier(taps: n)
                let taps = Int64(ys.count * xs.count)
                for ch in 0..<c {
                    let v = Int8Arithmetic.toInt32(Float(totals[ch] - taps * Int64(zeroIn)) * m) &+ zeroOut
                    out[(oy * w.outW + ox) * c + ch] = UInt8(truncatingIfNeeded: min(max(v, 0), 255))
                }
            }
        }
    }

    /// `sums[ch] += x[p·channels + ch]` (wrapping) over `pixels` consecutive pixels: the path's
    /// sum kernel, or with `fast` nil the Swift loop it is tested against.
    static func addPixels(_ x: UnsafePointer<UInt8>, pixels: Int, channels: Int, into sums: UnsafeMutablePointer<Int32>, fast: ISA?) {
        if let fast {
            PixelSumKernel.add(x, pixels: pixels, channels: channels, into: sums, isa: fast)
            return
        }
        for p in 0..<pixels { for ch in 0..<channels { sums[ch] &+= Int32(x[p * channels + ch]) } }
    }

    static func conv(_ c: ConvInt8, _ t: Int8Tensors, pool: SpinPool? = nil, scratch: [AlignedBuffer]) {
        if let k = c.fast {
            let pixels = c.outH * c.outW
            // Disjoint output-pixel ranges, each with its own scratch: the kernel is pure per pixel.
            // Layers too small to repay waking the other threads run on this one.
            let parts = c.macs < minimumSplitMACs ? 1 : max(1, min(pool?.width ?? 1, pixels / 8))
            // The kernel writes every output element.
            let out: UnsafeMutableRawPointer = switch c.output {
            case .quantized(let slot, _, _, _, _): UnsafeMutableRawPointer(t.u8(slot))
            case .float(let slot, _, _, _): UnsafeMutableRawPointer(t.float(slot))
            }
            // Addresses cross into the worker closures as integers (raw pointers are not Sendable).
            let io = ConvAddresses(input: UInt(bitPattern: t.u8(c.input)), output: UInt(bitPattern: out),
                                   residual: c.residual.map { UInt(bitPattern: t.u8($0.slot)) } ?? 0,
                                   codes: c.epilogue.map { UInt(bitPattern: t.u8($0.dst)) } ?? 0)
            guard let pool, parts > 1 else {
                // One part on this thread: no closure (its context would be allocated per call).
                convPart(c, k, io, pixels: 0..<pixels, scratch: scratch[0].pointer)
                return
            }
            pool.run(parts: parts) { p in
                convPart(c, k, io, pixels: (pixels * p / parts)..<(pixels * (p + 1) / parts), scratch: scratch[p].pointer)
            }
            return
        }
        let input = UnsafeBufferPointer(t.u8Buffer(c.input))
        let cpg = c.inC / c.groups, opg = c.outC / c.groups, taps = c.kh * c.kw
        var acc = [Int32](repeating: 0, count: c.outH * c.outW * c.outC)
        if cpg == 1 && opg == 1 {
            depthwise(c, input, &acc)
            finish(c, acc, t)
            return
        }
        let x = input
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
        finish(c, acc, t)
    }

    /// The arena addresses a convolution step reads and writes (0: none).
    struct ConvAddresses: Sendable {
        var input: UInt, output: UInt, residual: UInt, codes: UInt
    }

    /// Output pixels `pixels` of `c` on its C kernel `k`, then its fused table or float epilogue.
    static func convPart(_ c: ConvInt8, _ k: Int8ConvKernel, _ io: ConvAddresses, pixels range: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        guard let x = UnsafePointer<UInt8>(bitPattern: io.input), let out = UnsafeMutableRawPointer(bitPattern: io.output) else { return }
        let outC = c.outC
        if let epilogue = c.epilogue, let codes = UnsafeMutablePointer<UInt8>(bitPattern: io.codes) {
            // Blocks of rows: the convolution's floats, then the activation and quantization
            // while they are in cache.
            let floats = out.assumingMemoryBound(to: Float.self)
            let block = FloatEpilogue.blockPixels(channels: outC)
            for start in stride(from: range.lowerBound, to: range.upperBound, by: block) {
                let rows = start..<min(start + block, range.upperBound)
                k.run(input: x, output: UnsafeMutableRawPointer(floats), residual: nil, pixels: rows, scratch: UnsafeMutableRawPointer(scratch))
                epilogue.apply(floats + rows.lowerBound * outC, codes + rows.lowerBound * outC, pixels: rows.count, channels: outC, isa: k.isa)
            }
            return
        }
        k.run(input: x, output: out, residual: UnsafePointer(bitPattern: io.residual), pixels: range, scratch: UnsafeMutableRawPointer(scratch))
        // The fused table, in place on the rows this part just wrote (dense u8 pixels).
        if let table = c.table, !range.isEmpty {
            let start = out.assumingMemoryBound(to: UInt8.self) + range.lowerBound * outC
            table.apply(start, start, count: range.count * outC, isa: k.isa)
        }
    }

    /// Depthwise convolution, vectorizable over the contiguous channels of NHWC.
    /// Weights are [channel][tap] (the generic layout with one input channel per group).
    static func depthwise(_ c: ConvInt8, _ x: UnsafeBufferPointer<UInt8>, _ acc: inout [Int32]) {
        let taps = c.kh * c.kw, ch = c.outC
        var wt = [Int32](repeating: 0, count: taps * ch)   // [tap][channel]
        for o in 0..<ch { for t in 0..<taps { wt[t * ch + o] = Int32(c.weights[o * taps + t]) } }
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

    static func finish(_ c: ConvInt8, _ acc: [Int32], _ t: Int8Tensors) {
        switch c.output {
        case .quantized(let slot, let m, let zp, let lo, let hi):
            let out = t.u8Buffer(slot)
            for i in 0..<acc.count { out[i] = Int8Arithmetic.requantize(acc[i], m[i % c.outC], zeroPoint: zp, lo: lo, hi: hi) }
            if let (rs, a) = c.residual {
                let r = t.u8Buffer(rs)
                for i in 0..<out.count {
                    let (x, y) = a.convolutionIsSecond ? (r[i], out[i]) : (out[i], r[i])
                    out[i] = UInt8(truncatingIfNeeded: min(max(Int8Arithmetic.add(x, a.ma, y, a.mb, constant: a.constant), a.lo), a.hi))
                }
            }
            if let table = c.table { table.reference(UnsafeBufferPointer(out), out) }
        case .float(let slot, let scales, let lo, let hi):
            let out = t.floatBuffer(slot)
            for i in acc.indices { out[i] = min(max(Float(acc[i]) * scales[i % c.outC], lo), hi) }
            if let e = c.epilogue, let floats = out.baseAddress {
                e.apply(floats, t.u8(e.dst), pixels: acc.count / max(c.outC, 1), channels: c.outC, isa: nil)
            }
        }
    }
}
