import OctetCore
import OctetIR
import OctetKernels

/// A step of the general operators (data movement, Resize, reductions, normalization, batched
/// MatMul, Where, Cast, ConvTranspose's scatter): row-major operands, parameters resolved at
/// compile time, the arithmetic of `OctetIR`'s reference semantics.
enum GeneralOp {
    /// Transpose, Slice, Expand: a strided view of the input.
    case view(StridedView)
    case gather(shape: Shape, axis: Int, indices: [Int])
    case tile(shape: Shape, repeats: [Int])
    case pad(shape: Shape, pads: [Int], mode: PadMode, value: Float)
    case split(shape: Shape, axis: Int, sizes: [Int])
    case resize(outer: Int, inHeight: Int, inWidth: Int, rows: FloatSemantics.ResizeAxis, columns: FloatSemantics.ResizeAxis)
    /// Resize of an NHWC image (input and output NHWC).
    case resizeChannelsLast(inHeight: Int, inWidth: Int, channels: Int, rows: FloatSemantics.ResizeAxis, columns: FloatSemantics.ResizeAxis)
    case reduce(ReduceKind, shape: Shape, axes: Set<Int>)
    case softmax(outer: Int, n: Int, inner: Int, log: Bool)
    case layerNorm(rows: Int, inner: Int, epsilon: Float)
    case instanceNorm(channels: Int, spatial: Int, epsilon: Float)
    case matMul(MatMulShape, aView: StridedView?, bView: StridedView?)
    case `where`(StridedView, StridedView, StridedView)
    /// Cast of float activations: to an integer type truncates toward zero; to bool gives 0/1.
    case cast(truncate: Bool, toBool: Bool, count: Int)
    /// Global max over the spatial elements of each channel of `[channels, spatial]`.
    case globalMax(channels: Int, spatial: Int)
    /// ConvTranspose's second half: columns `[pixels][group][tap][cout/group]` scattered into NHWC output.
    case col2im(ConvTransposeGeometry)

    /// Runs on row-major operands (inputs in node order, then outputs).
    func run(_ inputs: [UnsafeMutablePointer<Float>], _ outputs: [UnsafeMutablePointer<Float>]) {
        switch self {
        case .view(let v): v.copy(from: inputs[0], to: outputs[0])
        case .gather(let shape, let axis, let indices):
            DataMovement.gather(inputs[0], shape: shape, axis: axis, indices: indices, into: outputs[0])
        case .tile(let shape, let repeats): DataMovement.tile(inputs[0], shape: shape, repeats: repeats, into: outputs[0])
        case .pad(let shape, let pads, let mode, let value):
            DataMovement.pad(inputs[0], shape: shape, pads: pads, mode: mode, value: value, into: outputs[0])
        case .split(let shape, let axis, let sizes): DataMovement.split(inputs[0], shape: shape, axis: axis, sizes: sizes, into: outputs)
        case .resize(let outer, let h, let w, let rows, let columns):
            FloatSemantics.resize2D(inputs[0], outer: outer, inHeight: h, inWidth: w, rows: rows, columns: columns, into: outputs[0])
        case .resizeChannelsLast(let h, let w, let c, let rows, let columns):
            FloatSemantics.resize2DChannelsLast(inputs[0], inHeight: h, inWidth: w, channels: c, rows: rows, columns: columns, into: outputs[0])
        case .reduce(let kind, let shape, let axes): FloatSemantics.reduce(kind, inputs[0], shape: shape, axes: axes, into: outputs[0])
        case .softmax(let outer, let n, let inner, let log):
            FloatSemantics.softmax(inputs[0], outer: outer, n: n, inner: inner, log: log, into: outputs[0])
        case .layerNorm(let rows, let inner, let eps):
            FloatSemantics.layerNorm(inputs[0], rows: rows, inner: inner, epsilon: eps, scale: inputs[1],
                                     bias: inputs.count > 2 ? UnsafePointer(inputs[2]) : nil, into: outputs[0])
        case .instanceNorm(let channels, let spatial, let eps):
            FloatSemantics.instanceNorm(inputs[0], images: 1, channels: channels, spatial: spatial, epsilon: eps,
                                        scale: inputs[1], bias: inputs[2], into: outputs[0])
        case .matMul(let s, let aView, let bView):
            let batch = s.batch.reduce(1, *)
            let a = expanded(inputs[0], aView), b = expanded(inputs[1], bView)
            defer { if aView != nil { a.deallocate() }; if bView != nil { b.deallocate() } }
            FloatSemantics.matMul(a, b, batch: batch, m: s.m, k: s.k, n: s.n, aBatchStride: s.m * s.k, bBatchStride: s.k * s.n, into: outputs[0])
        case .where(let vc, let va, let vb):
            let c = expanded(inputs[0], vc), a = expanded(inputs[1], va), b = expanded(inputs[2], vb)
            defer { c.deallocate(); a.deallocate(); b.deallocate() }
            for i in 0..<vc.count { outputs[0][i] = c[i] != 0 ? a[i] : b[i] }
        case .cast(let truncate, let toBool, let count):
            let x = inputs[0], y = outputs[0]
            for i in 0..<count { y[i] = toBool ? (x[i] != 0 ? 1 : 0) : (truncate ? x[i].rounded(.towardZero) : x[i]) }
        case .globalMax(let channels, let spatial):
            let x = inputs[0], y = outputs[0]
            for c in 0..<channels {
                var m = -Float.infinity
                for p in 0..<spatial { m = Swift.max(m, x[c * spatial + p]) }
                y[c] = m
            }
        case .col2im(let g): g.scatter(columns: inputs[0], bias: inputs.count > 1 ? UnsafePointer(inputs[1]) : nil, into: outputs[0])
        }
    }

    /// The view materialized in a fresh buffer, or the input itself when there is no view.
    private func expanded(_ p: UnsafeMutablePointer<Float>, _ view: StridedView?) -> UnsafeMutablePointer<Float> {
        guard let view else { return p }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(view.count, 1))
        view.copy(from: p, to: out)
        return out
    }
}

/// ConvTranspose as a GEMM (a 1×1 convolution giving, per input pixel, every output tap's
/// contribution) followed by a scatter-add of those columns into the output (col2im):
/// y[iy·s − pad + ky·d, ix·s − pad + kx·d, g, oc] += cols[iy, ix, g, ky, kx, oc].
struct ConvTransposeGeometry {
    var inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    var kernel: (h: Int, w: Int), stride: (h: Int, w: Int), dilation: (h: Int, w: Int)
    var padTop: Int, padLeft: Int
    var groups: Int, outChannelsPerGroup: Int

    var outChannels: Int { groups * outChannelsPerGroup }

    var columnsPerPixel: Int { groups * kernel.h * kernel.w * outChannelsPerGroup }

    /// The 1×1 weights `[group][tap][cout/group] × [cin/group]` from ONNX's `[cin][cout/group][kh][kw]`
    /// (real values for the FP32 plan, codes for the INT8 one).
    func gemmWeights<T: Numeric>(_ w: [T], inChannelsPerGroup cig: Int) -> [T] {
        let taps = kernel.h * kernel.w, cog = outChannelsPerGroup
        var out = [T](repeating: 0, count: columnsPerPixel * cig)
        for g in 0..<groups {
            for t in 0..<taps {
                for oc in 0..<cog {
                    let row = (g * taps + t) * cog + oc
                    for ic in 0..<cig { out[row * cig + ic] = w[((g * cig + ic) * cog + oc) * taps + t] }
                }
            }
        }
        return out
    }

    func scatter(columns: UnsafePointer<Float>, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        let cout = outChannels, cog = outChannelsPerGroup, taps = kernel.h * kernel.w
        if groups == 1, stride == kernel, dilation == (1, 1), padTop == 0, padLeft == 0,
           outHeight == inHeight * stride.h, outWidth == inWidth * stride.w {
            // The taps tile the output (a 2×2 stride-2 upsampling): each output is one column
            // value plus the bias, and a tap row of one input pixel is kw·C consecutive outputs
            // (the same sums as the general path: bias + column).
            let run = kernel.w * cout
            for iy in 0..<inHeight {
                for ky in 0..<kernel.h {
                    let row = y + ((iy * stride.h + ky) * outWidth) * cout
                    for ix in 0..<inWidth {
                        let col = columns + (iy * inWidth + ix) * columnsPerPixel + ky * run, dst = row + ix * run
                        if let bias {
                            for kx in 0..<kernel.w { for oc in 0..<cout { dst[kx * cout + oc] = bias[oc] + col[kx * cout + oc] } }
                        } else {
                            for j in 0..<run { dst[j] = 0 + col[j] }
                        }
                    }
                }
            }
            return
        }
        for p in 0..<(outHeight * outWidth) {
            for c in 0..<cout { y[p * cout + c] = bias?[c] ?? 0 }
        }
        for iy in 0..<inHeight {
            for ix in 0..<inWidth {
                let col = columns + (iy * inWidth + ix) * columnsPerPixel
                for ky in 0..<kernel.h {
                    let oy = iy * stride.h - padTop + ky * dilation.h
                    guard oy >= 0, oy < outHeight else { continue }
                    for kx in 0..<kernel.w {
                        let ox = ix * stride.w - padLeft + kx * dilation.w
                        guard ox >= 0, ox < outWidth else { continue }
                        let dst = y + (oy * outWidth + ox) * cout
                        let t = ky * kernel.w + kx
                        for g in 0..<groups {
                            let src = col + (g * taps + t) * cog, d = dst + g * cog
                            for oc in 0..<cog { d[oc] += src[oc] }
                        }
                    }
                }
            }
        }
    }
}

extension ConvTransposeGeometry {
    /// The geometry of a ConvTranspose with `attrs` over an NCHW `input` shape with weights of
    /// `weightShape` (`[Cin, Cout/group, kh, kw]`), and its 1×1 GEMM over the input pixels.
    init(_ attrs: ConvTransposeAttributes, input: Shape, weightShape w: Shape) {
        let (pads, out) = attrs.geometry(input: [input[2], input[3]])
        self.init(inHeight: input[2], inWidth: input[3], outHeight: out[0], outWidth: out[1], kernel: (w[2], w[3]),
                  stride: (attrs.window.strides[0], attrs.window.strides[1]),
                  dilation: (attrs.window.dilations[0], attrs.window.dilations[1]),
                  padTop: pads[0], padLeft: pads[1], groups: attrs.group, outChannelsPerGroup: w[1])
    }

    /// The GEMM that computes every input pixel's tap columns (a 1×1 convolution of
    /// `columnsPerPixel` outputs), for `inChannels` input channels.
    func gemm(inChannels: Int) -> ConvGeometry {
        ConvGeometry(inHeight: 1, inWidth: inHeight * inWidth, inPixelStride: inChannels, outHeight: 1, outWidth: inHeight * inWidth,
                     outPixelStride: columnsPerPixel, kernel: (1, 1), groups: groups, inChannelsPerGroup: inChannels / groups,
                     outChannelsPerGroup: columnsPerPixel / groups)
    }
}
