import CPNG
import CTurboJPEG
import Foundation

/// Decodes JPEG (libjpeg-turbo) and PNG (libpng) files to 8-bit RGB, choosing by content,
/// not by file name.
public enum ImageDecoder {
    /// Decodes the file at `path`. `atLeast`, given an image's width and height, returns the
    /// smallest width and height the caller needs: a JPEG is then decoded at the smallest of
    /// libjpeg-turbo's DCT-domain scales 1/2, 1/4, 1/8 that still gives that many pixels, which
    /// is faster and changes the pixels (`PreprocessRecipe.dctScaling`).
    public static func decode(contentsOf path: String, atLeast: ((Int, Int) -> (Int, Int))?) throws(DataError) -> RGBImage {
        guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
        return try decode(data, path: path, atLeast: atLeast)
    }

    /// Decodes the file at `path` at full size.
    public static func decode(contentsOf path: String) throws(DataError) -> RGBImage {
        try decode(contentsOf: path, atLeast: nil)
    }

    /// Decodes `data` (the file at `path`, for messages) at full size.
    public static func decode(_ data: Data, path: String) throws(DataError) -> RGBImage {
        try decode(data, path: path, atLeast: nil)
    }

    public static func decode(_ data: Data, path: String, atLeast: ((Int, Int) -> (Int, Int))?) throws(DataError) -> RGBImage {
        let bytes = [UInt8](data)
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return try decodeJPEG(bytes, path: path, atLeast: atLeast) }
        if bytes.count >= 8 && bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return try decodePNG(bytes, path: path)
        }
        if bytes.isEmpty { throw .corruptImage(path: path, reason: "the file is empty") }
        throw .unsupportedImage(path: path)
    }

    static let maxPixels = 1 << 28

    /// The width and height of a `width × height` JPEG decoded at the smallest of the scales
    /// 1/2, 1/4 and 1/8 that keeps at least `needed` (so only an image at least twice the target
    /// is scaled). libjpeg-turbo's other scales (3/4, 5/8…) use plain C inverse DCTs and were
    /// measured no faster than the full-size decode.
    public static func scaledSize(width: Int, height: Int, needed: (Int, Int)) -> (Int, Int) {
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return (width, height) }
        var best = (width, height)
        for f in UnsafeBufferPointer(start: factors, count: Int(count)) where f.num == 1 && [2, 4, 8].contains(f.denom) {
            let (num, denom) = (Int(f.num), Int(f.denom))
            let w = (width * num + denom - 1) / denom, h = (height * num + denom - 1) / denom  // TJSCALED
            if w >= needed.0, h >= needed.1, w * h < best.0 * best.1 { best = (w, h) }
        }
        return best
    }

    static func decodeJPEG(_ bytes: [UInt8], path: String, atLeast: ((Int, Int) -> (Int, Int))? = nil) throws(DataError) -> RGBImage {
        guard let handle = tjInitDecompress() else { throw .corruptImage(path: path, reason: "libturbojpeg failed to initialize") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt(bytes.count), &width, &height, &subsampling, &colorspace)
        }
        // The header's markers can warn too (junk between them), with the same rule as the decode.
        guard header == 0 || (isHarmlessWarning(String(cString: tjGetErrorStr2(handle))) && endsItsScan(bytes)), width > 0, height > 0 else {
            throw .corruptImage(path: path, reason: String(cString: tjGetErrorStr2(handle)))
        }
        guard Int(width) * Int(height) <= maxPixels else { throw .corruptImage(path: path, reason: "\(width)x\(height) is too large") }
        if let atLeast {
            let (w, h) = scaledSize(width: Int(width), height: Int(height), needed: atLeast(Int(width), Int(height)))
            (width, height) = (Int32(w), Int32(h))
        }
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * 3)
        let status = bytes.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src.baseAddress, UInt(bytes.count), dst.baseAddress, width, 0, height,
                              Int32(TJPF_RGB.rawValue), Int32(TJFLAG_ACCURATEDCT))
            }
        }
        if status != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            guard isHarmlessWarning(message), endsItsScan(bytes) else { throw .corruptImage(path: path, reason: message) }
        }
        return RGBImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    /// The starts of libjpeg's warnings about the data (jerror.h's JWRN_ messages: extraneous
    /// bytes before a marker, a scan cut short by a marker, a bad Huffman or arithmetic code, a
    /// missing restart marker, a bad ICC marker, an unknown JFIF revision, odd scan parameters).
    /// After each, libjpeg decodes the whole image (damaged parts as it can) and Pillow, which
    /// silences warnings, returns those pixels, so Octet does too. Not here: "Premature end of
    /// JPEG file", a file that ends before its image, which Pillow refuses too ("image file is
    /// truncated").
    static let harmlessWarnings = ["Corrupt JPEG data:", "Warning: unknown JFIF revision number", "Invalid SOS parameters for sequential JPEG",
                                   "Inconsistent progression sequence", "Unknown Adobe color transform code"]

    /// Whether TurboJPEG's message is one of `harmlessWarnings`. It is that of the first warning,
    /// or of the fatal error that ended the decode (refused: `tjGetErrorCode` cannot tell them
    /// apart, it says "warning" once one was issued).
    static func isHarmlessWarning(_ message: String) -> Bool {
        harmlessWarnings.contains { message.hasPrefix($0) }
    }

    /// Whether an end-of-image marker (FF D9) follows the first scan, so that libjpeg stopped
    /// there and not at the end of a truncated file (with a harmless first warning, a later
    /// truncation would otherwise pass). The header's segments are skipped by their lengths up to
    /// the first start of scan (FF DA): an EXIF thumbnail inside them holds its own FF D9.
    /// Entropy-coded data never holds FF D9.
    static func endsItsScan(_ bytes: [UInt8]) -> Bool {
        var i = 2   // after SOI
        while i + 1 < bytes.count {
            guard bytes[i] == 0xFF else { i += 1; continue }   // junk between segments (libjpeg skips it too)
            let marker = bytes[i + 1]
            if marker == 0xFF || marker == 0x01 || (0xD0...0xD8).contains(marker) { i += marker == 0xFF ? 1 : 2; continue }   // fill byte, segments without a length
            guard i + 3 < bytes.count else { return false }
            let end = i + 2 + (Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]))
            if marker == 0xDA {
                guard end < bytes.count else { return false }
                return (end..<(bytes.count - 1)).contains { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xD9 }
            }
            i = end
        }
        return false
    }

    static func decodePNG(_ bytes: [UInt8], path: String) throws(DataError) -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let begun = bytes.withUnsafeBufferPointer { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else { throw .corruptImage(path: path, reason: pngMessage(&image)) }
        defer { png_image_free(&image) }
        guard Int(image.width) * Int(image.height) <= maxPixels else { throw .corruptImage(path: path, reason: "\(image.width)x\(image.height) is too large") }
        image.format = UInt32(PNG_FORMAT_RGB)
        var pixels = [UInt8](repeating: 0, count: Int(image.width) * Int(image.height) * 3)
        let done = pixels.withUnsafeMutableBufferPointer { dst in
            png_image_finish_read(&image, nil, dst.baseAddress, Int32(image.width) * 3, nil)
        }
        guard done != 0 else { throw .corruptImage(path: path, reason: pngMessage(&image)) }
        return RGBImage(width: Int(image.width), height: Int(image.height), pixels: pixels)
    }

    private static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
