import Foundation
import OctetKernels

/// How an image becomes a model input: resize the shorter side, centre-crop, normalize
/// per channel as `(pixel / pixelDivisor - mean[c]) / std[c]` with pixels in 0...255,
/// channels in RGB or BGR order, laid out CHW. Matches torchvision's
/// `Resize(resize) → CenterCrop(crop) → ToTensor → Normalize` on PIL images.
public struct PreprocessRecipe: Codable, Hashable, Sendable {
    public enum ChannelOrder: String, Codable, Sendable { case rgb, bgr }

    public var name: String
    /// Length the shorter side is resized to (aspect ratio kept); nil keeps the size.
    public var resizeShorter: Int?
    /// Side of the square centre crop; nil keeps the whole image.
    public var crop: Int?
    public var pixelDivisor: Float
    public var mean: [Float]
    public var std: [Float]
    public var channelOrder: ChannelOrder
    /// Exact `[height, width]` to resize to (aspect ratio not kept), instead of `resizeShorter`.
    public var resizeTo: [Int]?
    /// A non-square centre crop `[height, width]`, instead of `crop`.
    public var cropSize: [Int]?
    /// Padding after resizing and cropping (detectors, OCR).
    public var letterbox: Letterbox?
    /// Decode a JPEG at least twice the resize target at libjpeg-turbo's DCT-domain scale 1/2,
    /// 1/4 or 1/8 (the smallest that keeps the target's pixels): faster, and not Pillow's pixels
    /// (the default, nil or false, decodes at full size as Pillow does). Ignored with a letterbox.
    public var dctScaling: Bool?

    /// Letterbox padding: with `size`, the image is scaled to fit `[height, width]` keeping its
    /// aspect ratio and centred on a `padValue` canvas of that size; with `multiple`, the bottom
    /// and right are padded up to the next multiple (PP-OCR detection's 32).
    public struct Letterbox: Codable, Hashable, Sendable {
        public var size: [Int]?
        public var multiple: Int?
        public var padValue: UInt8?
        public init(size: [Int]? = nil, multiple: Int? = nil, padValue: UInt8? = nil) {
            self.size = size; self.multiple = multiple; self.padValue = padValue
        }
    }

    public init(name: String, resizeShorter: Int?, crop: Int?, pixelDivisor: Float, mean: [Float], std: [Float],
                channelOrder: ChannelOrder = .rgb, resizeTo: [Int]? = nil, cropSize: [Int]? = nil, letterbox: Letterbox? = nil) {
        self.resizeTo = resizeTo
        self.cropSize = cropSize
        self.letterbox = letterbox
        self.name = name
        self.resizeShorter = resizeShorter
        self.crop = crop
        self.pixelDivisor = pixelDivisor
        self.mean = mean
        self.std = std
        self.channelOrder = channelOrder
    }

    /// torchvision's ImageNet recipe: 256 → 224, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
    public static let imagenet = PreprocessRecipe(name: "imagenet", resizeShorter: 256, crop: 224, pixelDivisor: 255,
                                                  mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    /// EfficientNet-Lite: 256 → 224, `(x - 127) / 128`.
    public static let efficientNetLite = PreprocessRecipe(name: "efficientnet-lite", resizeShorter: 256, crop: 224, pixelDivisor: 1,
                                                          mean: [127, 127, 127], std: [128, 128, 128])
    public static let named: [String: PreprocessRecipe] = ["imagenet": .imagenet, "efficientnet-lite": .efficientNetLite]

    /// Resolves `--preprocess NAME|FILE`; without one, `MODEL.preprocess.json` beside the model
    /// if present, else `imagenet`.
    public static func resolve(_ spec: String?, modelPath: String?) throws(DataError) -> PreprocessRecipe {
        if let spec {
            if let r = named[spec] { return r }
            guard FileManager.default.fileExists(atPath: spec) else {
                throw .badRecipe("'\(spec)' is neither a named recipe (\(named.keys.sorted().joined(separator: ", "))) nor a JSON file")
            }
            return try load(path: spec)
        }
        if let modelPath {
            let url = URL(fileURLWithPath: modelPath)
            let side = url.deletingPathExtension().path + ".preprocess.json"
            if FileManager.default.fileExists(atPath: side) { return try load(path: side) }
        }
        return .imagenet
    }

    public static func load(path: String) throws(DataError) -> PreprocessRecipe {
        guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
        let recipe: PreprocessRecipe
        do { recipe = try JSONDecoder().decode(PreprocessRecipe.self, from: data) } catch {
            throw .badRecipe("\(path): \(error)")
        }
        try recipe.validate()
        return recipe
    }

    public func validate() throws(DataError) {
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 != 0 && $0.isFinite }), pixelDivisor > 0, pixelDivisor.isFinite else {
            throw .badRecipe("'\(name)' needs 3 means, 3 non-zero finite stds and a positive finite pixelDivisor")
        }
        if let r = resizeShorter, r <= 0 || r > 16384 { throw .badRecipe("'\(name)': resizeShorter must be in 1...16384") }
        if let c = crop, c <= 0 || c > 16384 { throw .badRecipe("'\(name)': crop must be in 1...16384") }
        for (field, v) in [("resizeTo", resizeTo), ("cropSize", cropSize), ("letterbox.size", letterbox?.size)] {
            if let v, v.count != 2 || v.contains(where: { $0 <= 0 || $0 > 16384 }) {
                throw .badRecipe("'\(name)': \(field) must be [height, width] with positive sizes")
            }
        }
        if let m = letterbox?.multiple, m <= 0 || m > 4096 { throw .badRecipe("'\(name)': letterbox.multiple must be positive") }
        if let l = letterbox, (l.size == nil) == (l.multiple == nil) { throw .badRecipe("'\(name)': letterbox needs one of size or multiple") }
    }

    /// Height and width of the produced tensor for an image of `width × height`.
    public func outputSize(width: Int, height: Int) -> (height: Int, width: Int) {
        let (w, h) = resizedSize(width: width, height: height)
        let (ch, cw) = cropSize.map { ($0[0], $0[1]) } ?? (crop ?? h, crop ?? w)
        if let size = letterbox?.size { return (size[0], size[1]) }
        if let m = letterbox?.multiple { return ((ch + m - 1) / m * m, (cw + m - 1) / m * m) }
        return (ch, cw)
    }

    /// Width and height after resizing (before the crop) of an image of `width × height`.
    public func resizedSize(width: Int, height: Int) -> (Int, Int) {
        if let r = resizeTo, r.count == 2 { return (r[1], r[0]) }
        guard let s = resizeShorter else { return (width, height) }
        // torchvision: the long side is int(size * long / short).
        if width <= height { return (s, Int(Double(s) * Double(height) / Double(width))) }
        return (Int(Double(s) * Double(width) / Double(height)), s)
    }

    /// Decodes the image at `path` for this recipe (`dctScaling`: at a reduced DCT scale that
    /// keeps the resize target's pixels).
    /// An image whose resized or final size would exceed the decoder's pixel limit (a recipe's
    /// large resize of a long, thin image) is refused here, naming it, before any resizing.
    public func decode(contentsOf path: String) throws(DataError) -> RGBImage {
        let image: RGBImage
        if dctScaling == true, letterbox == nil, resizeShorter != nil || resizeTo != nil {
            image = try ImageDecoder.decode(contentsOf: path) { w, h in self.resizedSize(width: w, height: h) }
        } else {
            image = try ImageDecoder.decode(contentsOf: path)
        }
        let (rw, rh) = resizedSize(width: image.width, height: image.height)
        let out = outputSize(width: image.width, height: image.height)
        for (w, h) in [(rw, rh), (out.width, out.height)] where w.multipliedReportingOverflow(by: h).overflow || w * h > ImageDecoder.maxPixels {
            throw .badRecipe("'\(name)' resizes \(path) (\(image.width)x\(image.height)) to \(w)x\(h), more than \(ImageDecoder.maxPixels) pixels")
        }
        return image
    }

    /// The CHW float tensor of `image`.
    public func apply(_ image: RGBImage) -> [Float] {
        normalize(resizedCrop(image))
    }

    /// The 8-bit image after resizing and centre cropping, before normalization. `isa`: the
    /// resampling kernels' path (every path gives the same bytes).
    public func resizedCrop(_ image: RGBImage, isa: ISA = .best) -> RGBImage {
        let (rw, rh) = resizedSize(width: image.width, height: image.height)
        let (ch, cw) = cropSize.map { ($0[0], $0[1]) } ?? (crop ?? rh, crop ?? rw)
        let (top, left) = cropOrigin(height: rh, width: rw, cropHeight: ch, cropWidth: cw)
        if (rw, rh) != (image.width, image.height), top >= 0, left >= 0, top + ch <= rh, left + cw <= rw {
            // The crop lies inside the resized image: resize that window alone.
            return letterboxed(Resampler.resize(image, width: rw, height: rh, region: (x: left, y: top, width: cw, height: ch), isa: isa), isa: isa)
        }
        let resized = (rw, rh) == (image.width, image.height) ? image : Resampler.resize(image, width: rw, height: rh, isa: isa)
        return letterboxed(centreCrop(resized, height: ch, width: cw), isa: isa)
    }

    /// Where a centre crop starts: torchvision CenterCrop's `int(round((size - crop) / 2))`,
    /// Python's round-half-even (negative when the crop is larger than the image).
    func cropOrigin(height rh: Int, width rw: Int, cropHeight ch: Int, cropWidth cw: Int) -> (top: Int, left: Int) {
        (Int((Double(rh - ch) / 2).rounded(.toNearestOrEven)), Int((Double(rw - cw) / 2).rounded(.toNearestOrEven)))
    }

    /// The centre `height × width` of `resized` (zeros outside it, as torchvision pads).
    public func centreCrop(_ resized: RGBImage, height ch: Int, width cw: Int) -> RGBImage {
        let (rh, rw) = (resized.height, resized.width)
        if (ch, cw) == (rh, rw) { return resized }
        let (top, left) = cropOrigin(height: rh, width: rw, cropHeight: ch, cropWidth: cw)
        var out = [UInt8](repeating: 0, count: ch * cw * 3)
        for y in 0..<ch {
            let sy = y + top
            for x in 0..<cw {
                let sx = x + left
                // Crop windows larger than the image read zeros, as torchvision pads.
                guard sy >= 0, sy < rh, sx >= 0, sx < rw else { continue }
                for c in 0..<3 { out[(y * cw + x) * 3 + c] = resized.pixels[(sy * rw + sx) * 3 + c] }
            }
        }
        return RGBImage(width: cw, height: ch, pixels: out)
    }

    /// Applies `letterbox`, if any.
    func letterboxed(_ image: RGBImage, isa: ISA) -> RGBImage {
        guard let l = letterbox else { return image }
        let pad = l.padValue ?? (l.size != nil ? 114 : 0)
        var content = image, (th, tw) = (image.height, image.width), (top, left) = (0, 0)
        if let size = l.size {
            (th, tw) = (size[0], size[1])
            let scale = min(Double(th) / Double(image.height), Double(tw) / Double(image.width))
            let nw = max(1, min(tw, Int((Double(image.width) * scale).rounded())))
            let nh = max(1, min(th, Int((Double(image.height) * scale).rounded())))
            if (nw, nh) != (image.width, image.height) { content = Resampler.resize(image, width: nw, height: nh, isa: isa) }
            top = (th - nh) / 2; left = (tw - nw) / 2
        } else if let m = l.multiple {
            (th, tw) = ((image.height + m - 1) / m * m, (image.width + m - 1) / m * m)
        }
        if (th, tw) == (content.height, content.width) { return content }
        var out = [UInt8](repeating: pad, count: th * tw * 3)
        for y in 0..<content.height {
            for x in 0..<content.width {
                for c in 0..<3 { out[((y + top) * tw + x + left) * 3 + c] = content.pixels[(y * content.width + x) * 3 + c] }
            }
        }
        return RGBImage(width: tw, height: th, pixels: out)
    }

    /// CHW floats `(pixel / pixelDivisor - mean[c]) / std[c]` in the recipe's channel order.
    public func normalize(_ image: RGBImage) -> [Float] {
        let (h, w) = (image.height, image.width)
        var out = [Float](repeating: 0, count: 3 * h * w)
        let order = channelOrder == .rgb ? [0, 1, 2] : [2, 1, 0]
        // One table of the 256 values per channel: the same floats as computing each pixel.
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 { for v in 0..<256 { table[c * 256 + v] = (Float(v) / pixelDivisor - mean[c]) / std[c] } }
        let plane = h * w
        table.withUnsafeBufferPointer { t in
            image.pixels.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { o in
                    for c in 0..<3 {
                        let src = order[c], lut = t.baseAddress! + c * 256, dst = o.baseAddress! + c * plane
                        for p in 0..<plane { dst[p] = lut[Int(px[p * 3 + src])] }
                    }
                }
            }
        }
        return out
    }
}
