import Foundation

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

    public init(name: String, resizeShorter: Int?, crop: Int?, pixelDivisor: Float, mean: [Float], std: [Float],
                channelOrder: ChannelOrder = .rgb) {
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
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 != 0 && $0.isFinite }), pixelDivisor > 0 else {
            throw .badRecipe("'\(name)' needs 3 means and 3 non-zero stds")
        }
        if let r = resizeShorter, r <= 0 { throw .badRecipe("'\(name)': resizeShorter must be positive") }
        if let c = crop, c <= 0 { throw .badRecipe("'\(name)': crop must be positive") }
    }

    /// Height and width of the produced tensor for an image of `width × height`.
    public func outputSize(width: Int, height: Int) -> (height: Int, width: Int) {
        let (w, h) = resizedSize(width: width, height: height)
        return (crop ?? h, crop ?? w)
    }

    func resizedSize(width: Int, height: Int) -> (Int, Int) {
        guard let s = resizeShorter else { return (width, height) }
        // torchvision: the long side is int(size * long / short).
        if width <= height { return (s, Int(Double(s) * Double(height) / Double(width))) }
        return (Int(Double(s) * Double(width) / Double(height)), s)
    }

    /// The CHW float tensor of `image`.
    public func apply(_ image: RGBImage) -> [Float] {
        normalize(resizedCrop(image))
    }

    /// The 8-bit image after resizing and centre cropping, before normalization.
    public func resizedCrop(_ image: RGBImage) -> RGBImage {
        let (rw, rh) = resizedSize(width: image.width, height: image.height)
        let resized = (rw, rh) == (image.width, image.height) ? image : Resampler.resize(image, width: rw, height: rh)
        let ch = crop ?? rh, cw = crop ?? rw
        if (ch, cw) == (rh, rw) { return resized }
        // torchvision CenterCrop: int(round((size - crop) / 2)), Python's round-half-even.
        let top = Int((Double(rh - ch) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(rw - cw) / 2).rounded(.toNearestOrEven))
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

    /// CHW floats `(pixel / pixelDivisor - mean[c]) / std[c]` in the recipe's channel order.
    public func normalize(_ image: RGBImage) -> [Float] {
        let (h, w) = (image.height, image.width)
        var out = [Float](repeating: 0, count: 3 * h * w)
        let order = channelOrder == .rgb ? [0, 1, 2] : [2, 1, 0]
        for c in 0..<3 {
            let src = order[c]
            for p in 0..<(h * w) {
                out[c * h * w + p] = (Float(image.pixels[p * 3 + src]) / pixelDivisor - mean[c]) / std[c]
            }
        }
        return out
    }
}
