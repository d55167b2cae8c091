import Foundation
import OctetTestSupport
import XCTest

final class PreprocessingTests: XCTestCase {
    struct PILReference: Decodable { var images: [String]; var fnv1a64: [String] }

    /// Resize + centre crop reproduce Pillow's bytes exactly (fingerprints from the script).
    func testResizeAndCropMatchPillowExactly() throws {
        try TestPaths.requireShared()
        let ref = try TestPaths.fixture("preprocessing_reference.json", as: PILReference.self)
        for (name, hash) in zip(ref.images, ref.fnv1a64) {
            let image = try ImageDecoder.decode(contentsOf: TestPaths.imageSample + "/" + name)
            let crop = PreprocessRecipe.efficientNetLite.resizedCrop(image)
            XCTAssertEqual(crop.width, 224)
            XCTAssertEqual(crop.height, 224)
            XCTAssertEqual(String(format: "%016llx", fnv1a64(crop.pixels)), hash, name)
        }
    }

    /// The windowed resize (a centre crop's region, only the source rows it needs, 32-bit sums
    /// on the C kernels) gives the bytes of the plain full resize cropped, for random sizes up
    /// and down, odd widths, one-pixel images and random windows, including saturated pixels,
    /// on every kernel path this CPU has.
    func testWindowedResizeMatchesTheReference() {
        for isa in ISA.supported { windowedResizeMatchesTheReference(isa) }
    }

    func windowedResizeMatchesTheReference(_ isa: ISA) {
        var rng = TestRandom(seed: 2024)
        for trial in 0..<300 {
            let w = Int.random(in: 1...61, using: &rng.rng), h = Int.random(in: 1...47, using: &rng.rng)
            let extremes = trial % 5 == 0
            let pixels = (0..<(w * h * 3)).map { _ in extremes ? (Bool.random(using: &rng.rng) ? 255 : 0) : UInt8.random(in: 0...255, using: &rng.rng) }
            let image = RGBImage(width: w, height: h, pixels: pixels)
            let ow = Int.random(in: 1...80, using: &rng.rng), oh = trial % 7 == 0 ? h : Int.random(in: 1...60, using: &rng.rng)
            let full = Resampler.referenceResize(image, width: ow, height: oh)
            XCTAssertEqual(Resampler.resize(image, width: ow, height: oh, isa: isa), full, "\(isa) \(w)x\(h) → \(ow)x\(oh)")
            let rw = Int.random(in: 0...ow, using: &rng.rng), rh = Int.random(in: 0...oh, using: &rng.rng)
            let x = Int.random(in: 0...(ow - rw), using: &rng.rng), y = Int.random(in: 0...(oh - rh), using: &rng.rng)
            var crop: [UInt8] = []
            for yy in y..<(y + rh) { crop += full.pixels[((yy * ow + x) * 3)..<((yy * ow + x + rw) * 3)] }
            let window = Resampler.resize(image, width: ow, height: oh, region: (x: x, y: y, width: rw, height: rh), isa: isa)
            XCTAssertEqual(window, RGBImage(width: rw, height: rh, pixels: crop), "\(isa) \(w)x\(h) → \(ow)x\(oh), window \(x),\(y) \(rw)x\(rh)")
        }
    }

    /// The recipe's crop (windowed, or padded when the crop exceeds the image) equals cropping
    /// the reference resize, and normalization's table gives the formula's floats.
    func testRecipeCropAndNormalizationMatchTheFormula() {
        var rng = TestRandom(seed: 7)
        let recipes = [PreprocessRecipe.imagenet, .efficientNetLite,
                       PreprocessRecipe(name: "bgr", resizeShorter: 40, crop: 48, pixelDivisor: 255, mean: [0.1, 0.2, 0.3],
                                        std: [0.3, 0.2, 0.1], channelOrder: .bgr),
                       PreprocessRecipe(name: "odd", resizeShorter: 37, crop: nil, pixelDivisor: 1, mean: [1, 2, 3], std: [3, 5, 7],
                                        resizeTo: nil, cropSize: [21, 33])]
        for trial in 0..<24 {
            let recipe = recipes[trial % recipes.count]
            let w = Int.random(in: 20...300, using: &rng.rng), h = Int.random(in: 20...300, using: &rng.rng)
            let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &rng.rng) })
            let (rw, rh) = recipe.resizedSize(width: w, height: h)
            let (ch, cw) = recipe.cropSize.map { ($0[0], $0[1]) } ?? (recipe.crop ?? rh, recipe.crop ?? rw)
            let expected = recipe.centreCrop(Resampler.referenceResize(image, width: rw, height: rh), height: ch, width: cw)
            let got = recipe.resizedCrop(image)
            XCTAssertEqual(got, expected, "\(recipe.name) \(w)x\(h)")
            let order = recipe.channelOrder == .rgb ? [0, 1, 2] : [2, 1, 0]
            let floats = recipe.normalize(got)
            let plane = got.width * got.height
            for c in 0..<3 {
                for p in stride(from: 0, to: plane, by: 17) {
                    XCTAssertEqual(floats[c * plane + p], (Float(got.pixels[p * 3 + order[c]]) / recipe.pixelDivisor - recipe.mean[c]) / recipe.std[c])
                }
            }
        }
    }

    /// `dctScaling` decodes a JPEG at least twice the resize target at 1/2, 1/4 or 1/8, the
    /// smallest that keeps the target's pixels: 1/2 for a 1024×768 image going to 256 on the
    /// shorter side, 1/4 for a 2048×1536 one, full size for the usual 500×375; the crop keeps its
    /// size and stays close to the exact path's pixels (the large images of the shared set).
    func testDCTScalingKeepsTheTargetsPixels() throws {
        try TestPaths.requireShared()
        let recipe = PreprocessRecipe.efficientNetLite
        XCTAssertTrue(ImageDecoder.scaledSize(width: 500, height: 375, needed: recipe.resizedSize(width: 500, height: 375)) == (500, 375))
        XCTAssertTrue(ImageDecoder.scaledSize(width: 1024, height: 768, needed: recipe.resizedSize(width: 1024, height: 768)) == (512, 384))
        XCTAssertTrue(ImageDecoder.scaledSize(width: 2048, height: 1536, needed: recipe.resizedSize(width: 2048, height: 1536)) == (512, 384))
        XCTAssertTrue(ImageDecoder.scaledSize(width: 300, height: 260, needed: recipe.resizedSize(width: 300, height: 260)) == (300, 260), "no scale keeps the pixels: full size")
        var scaled = recipe
        scaled.dctScaling = true
        let names = try FileManager.default.contentsOfDirectory(atPath: TestPaths.imageSample).filter { $0.hasSuffix(".JPEG") }.sorted()
        var reduced = 0, total = 0.0, count = 0
        for name in names {
            let path = TestPaths.imageSample + "/" + name
            let full = try ImageDecoder.decode(contentsOf: path), small = try scaled.decode(contentsOf: path)
            let (rw, rh) = recipe.resizedSize(width: full.width, height: full.height)
            // At least the target's pixels, or the full image when it is smaller than the target.
            XCTAssertGreaterThanOrEqual(small.width, min(rw, full.width), name)
            XCTAssertGreaterThanOrEqual(small.height, min(rh, full.height), name)
            if rw > full.width || rh > full.height { XCTAssertEqual(small, full, name) }
            guard small.width < full.width else { XCTAssertEqual(small, full, name); continue }
            reduced += 1
            let a = recipe.resizedCrop(full), b = scaled.resizedCrop(small)
            XCTAssertEqual([b.width, b.height], [224, 224], name)
            for (x, y) in zip(a.pixels, b.pixels) { total += abs(Double(x) - Double(y)) }
            count += a.pixels.count
        }
        XCTAssertGreaterThanOrEqual(reduced, 20, "the shared set's large images (25 of 500 have a shorter side of 512 or more) are decoded smaller")
        let mean = total / Double(count)
        XCTAssertLessThan(mean, 6, "mean absolute pixel difference from the exact path")
        print(String(format: "DCT scaling: %d of %d images decoded smaller; their crops' mean |Δpixel| %.2f against Pillow's path", reduced, names.count, mean))
    }

    func testNormalizationRecipes() {
        let image = RGBImage(width: 1, height: 1, pixels: [255, 127, 0])
        XCTAssertEqual(PreprocessRecipe.efficientNetLite.normalize(image), [1, 0, -127.0 / 128])
        let bgr = PreprocessRecipe(name: "t", resizeShorter: nil, crop: nil, pixelDivisor: 1, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: .bgr)
        XCTAssertEqual(bgr.normalize(image), [0, 127, 255])
        let imagenet = PreprocessRecipe.imagenet.normalize(image)
        XCTAssertEqual(imagenet[0], (1 - 0.485) / 0.229, accuracy: 1e-6)
    }

    func testResizeKeepsAspectLikeTorchvision() {
        XCTAssertEqual(PreprocessRecipe.imagenet.outputSize(width: 500, height: 375).width, 224)
        let keep = PreprocessRecipe(name: "k", resizeShorter: 256, crop: nil, pixelDivisor: 1, mean: [0, 0, 0], std: [1, 1, 1])
        XCTAssertEqual(keep.outputSize(width: 500, height: 375).width, 341)  // int(256 * 500 / 375)
        XCTAssertEqual(keep.outputSize(width: 375, height: 500).height, 341)
    }

    func testRecipeFromFileAndSidecar() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let recipe = PreprocessRecipe(name: "mine", resizeShorter: 128, crop: 112, pixelDivisor: 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
        let data = try JSONEncoder().encode(recipe)
        try data.write(to: dir.appendingPathComponent("model.preprocess.json"))
        XCTAssertEqual(try PreprocessRecipe.resolve(nil, modelPath: dir.appendingPathComponent("model.onnx").path), recipe)
        XCTAssertEqual(try PreprocessRecipe.resolve(dir.appendingPathComponent("model.preprocess.json").path, modelPath: nil), recipe)
        XCTAssertEqual(try PreprocessRecipe.resolve("efficientnet-lite", modelPath: nil), .efficientNetLite)
        XCTAssertThrowsError(try PreprocessRecipe.resolve("nonsense", modelPath: nil)) { XCTAssertTrue("\($0)".contains("neither a named recipe")) }
        try Data("{\"name\": 1}".utf8).write(to: dir.appendingPathComponent("bad.json"))
        XCTAssertThrowsError(try PreprocessRecipe.resolve(dir.appendingPathComponent("bad.json").path, modelPath: nil))
    }
}

final class DatasetTests: XCTestCase {
    func testOrderAndShardsDependOnlyOnNames() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        var names = (0..<23).map { String(format: "img_%02d.png", $0) } + ["notes.txt", "b.JPG"]
        var r = TestRandom(seed: 3)
        names.sort { _, _ in r.bool() }
        for n in names { FileManager.default.createFile(atPath: dir.appendingPathComponent(n).path, contents: Data()) }
        let ds = try ImageFolderDataset(directory: dir.path, recipe: .imagenet)
        XCTAssertEqual(ds.items.map(\.name), ["b.JPG"] + (0..<23).map { String(format: "img_%02d.png", $0) })
        for n in 1...5 {
            let shards = try (0..<n).map { try ds.shard($0, of: n) }
            XCTAssertEqual(shards.flatMap { Array($0) }, Array(0..<24), "\(n) shards")
        }
        XCTAssertThrowsError(try ds.shard(3, of: 3))
    }

    func testEmptyFolderMissingFolderAndLabels() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        XCTAssertThrowsError(try ImageFolderDataset(directory: dir.path, recipe: .imagenet)) { XCTAssertTrue("\($0)".contains("no images")) }
        XCTAssertThrowsError(try ImageFolderDataset(directory: dir.path + "/missing", recipe: .imagenet)) { XCTAssertTrue("\($0)".contains("not found")) }
        FileManager.default.createFile(atPath: dir.appendingPathComponent("a.png").path, contents: Data())
        let labels = dir.appendingPathComponent("labels.csv")
        try Data("file,label,wnid\nother.png,3,x\n".utf8).write(to: labels)
        XCTAssertThrowsError(try ImageFolderDataset(directory: dir.path, labels: labels.path, recipe: .imagenet)) {
            XCTAssertTrue("\($0)".contains("image a.png has no entry"), "\($0)")
        }
        try Data("file,label\na.png,seven\n".utf8).write(to: labels)
        XCTAssertThrowsError(try LabelsFile(path: labels.path)) { XCTAssertTrue("\($0)".contains("not an integer"), "\($0)") }
    }

    /// A recipe's resize that would make an image larger than the decoder accepts (here the
    /// shorter side of a 500×375 photo to 16384: 21845×16384 pixels) is refused naming the image,
    /// before any memory is spent on it.
    func testAResizeBeyondThePixelLimitIsRefusedNamingTheImage() throws {
        try TestPaths.requireShared()
        var recipe = PreprocessRecipe.efficientNetLite
        recipe.resizeShorter = 16384
        recipe.crop = nil
        XCTAssertNoThrow(try recipe.validate())
        let path = TestPaths.imageSample + "/n01440764_tench.JPEG"
        XCTAssertThrowsError(try recipe.decode(contentsOf: path)) {
            XCTAssertTrue("\($0)".contains("n01440764_tench.JPEG (500x375) to 21845x16384, more than 268435456 pixels"), "\($0)")
        }
        recipe.resizeShorter = 20000
        XCTAssertThrowsError(try recipe.validate()) { XCTAssertTrue("\($0)".contains("resizeShorter must be in 1...16384"), "\($0)") }
    }

    func testCorruptTruncatedAndNonImageFiles() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let empty = dir.appendingPathComponent("empty.jpg").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: empty)) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
        let text = dir.appendingPathComponent("text.png").path
        FileManager.default.createFile(atPath: text, contents: Data("hello".utf8))
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: text)) { XCTAssertTrue("\($0)".contains("unsupported image format"), "\($0)") }
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: dir.path + "/nothing.jpg")) { XCTAssertTrue("\($0)".contains("not found")) }
        try TestPaths.requireShared()
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: TestPaths.imageSample + "/n01440764_tench.JPEG"))
        for cut in [4, 200, jpeg.count / 2] {
            XCTAssertThrowsError(try ImageDecoder.decode(jpeg.prefix(cut), path: "cut.jpg"), "cut \(cut)") {
                XCTAssertTrue("\($0)".contains("cannot decode image cut.jpg"), "\($0)")
            }
        }
        var garbled = jpeg
        for i in stride(from: 600, to: garbled.count, by: 97) { garbled[i] = 0xFF }
        XCTAssertThrowsError(try ImageDecoder.decode(garbled, path: "garbled.jpg"))
    }

    /// A JPEG whose damage libjpeg only warns about decodes, as Pillow decodes it: extraneous bytes
    /// before a marker give the original pixels, a data segment cut short by a marker and a bad
    /// Huffman code give Pillow's pixels; a file cut before its end and a broken stream stay
    /// errors in both.
    /// Pillow's side runs `scripts/pillow_decode.py` (skipped, after the rest, without Pillow).
    func testDamagedJPEGsDecodeWhereAndAsPillowDoes() throws {
        try TestPaths.requireShared()
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: TestPaths.imageSample + "/n01440764_tench.JPEG"))
        XCTAssertEqual(Array(jpeg.suffix(2)), [0xFF, 0xD9], "the sample must end with its EOI marker")
        let original = try ImageDecoder.decode(jpeg, path: "original.jpg")
        let bytes = [UInt8](jpeg)
        // Junk before the start-of-scan marker: "3 extraneous bytes before marker 0xda".
        let sos = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA })
        var garbled = jpeg
        for i in stride(from: 600, to: garbled.count, by: 97) { garbled[i] = 0xFF }
        // One bit of another sample's scan flipped (found by fuzzing): "Corrupt JPEG data: bad
        // Huffman code".
        var huffman = try Data(contentsOf: URL(fileURLWithPath: TestPaths.imageSample + "/n04476259_tray.JPEG"))
        guard huffman.count == 42319 else { return XCTFail("n04476259_tray.JPEG is \(huffman.count) bytes, not the 42319 the flipped bit was found in") }
        huffman[40946] ^= 0x40
        let files: [(name: String, bytes: Data)] = [
            ("extraneous.jpg", jpeg.prefix(sos) + Data([0x01, 0x02, 0x03]) + jpeg.dropFirst(sos)),
            ("segment.jpg", jpeg.prefix(jpeg.count / 2) + Data([0xFF, 0xD9]) + jpeg.dropFirst(jpeg.count / 2)),
            ("truncated.jpg", jpeg.prefix(jpeg.count * 4 / 5)),
            ("garbled.jpg", garbled),
            ("huffman.jpg", huffman),
        ]
        let octet = files.map { try? ImageDecoder.decode($0.bytes, path: $0.name) }
        XCTAssertTrue(octet[0]?.pixels == original.pixels, "extraneous bytes change no pixel")
        XCTAssertTrue(octet[1] != nil, "a segment cut short by a marker decodes")
        XCTAssertTrue(octet[1]?.pixels != original.pixels)
        XCTAssertThrowsError(try ImageDecoder.decode(files[2].bytes, path: files[2].name)) {
            XCTAssertTrue("\($0)".contains("cannot decode image truncated.jpg: Premature end of JPEG file"), "\($0)")
        }
        XCTAssertTrue(octet[3] == nil, "a broken stream (an unknown marker in the scan) is refused")
        XCTAssertTrue(octet[4] != nil, "a bad Huffman code decodes")
        // A harmless first warning does not hide a truncation after it: the segment cut short,
        // then the file cut before any end marker.
        let cutAndTruncated = jpeg.prefix(jpeg.count / 2) + Data([0xFF, 0xD0 + 7, 0x12, 0x34]) + jpeg.dropFirst(jpeg.count / 2).prefix(jpeg.count / 4)
        // The same behind an application segment holding FF DA … FF D9 (as an EXIF thumbnail
        // does): the end marker must follow the image's own scan.
        let thumbnail = Data([0xFF, 0xE5, 0x00, 0x08, 0xFF, 0xDA, 0xFF, 0xD9, 0x00, 0x00])
        for (name, bytes) in [("cut-truncated.jpg", cutAndTruncated), ("thumbnail.jpg", cutAndTruncated.prefix(sos) + thumbnail + cutAndTruncated.dropFirst(sos))] {
            XCTAssertThrowsError(try ImageDecoder.decode(bytes, path: name)) {
                XCTAssertTrue("\($0)".contains("premature end of data segment"), "\(name) refused for its harmless first warning's truncation: \($0)")
            }
        }
        let dir = try TestPaths.temporaryDirectory(self)
        let paths = try files.map { f in
            let url = dir.appendingPathComponent(f.name)
            try f.bytes.write(to: url)
            return url.path
        }
        guard let pillow = try PythonScript.run("pillow_decode.py", paths) else {
            throw XCTSkip("python3 with Pillow (and numpy, onnxruntime) is not installed: Octet's side passed, Pillow's was not compared")
        }
        let hashes = try XCTUnwrap(pillow["fnv1a64"] as? [Any], "\(pillow)")
        XCTAssertEqual(hashes.count, files.count)
        for (i, f) in files.enumerated() {
            XCTAssertEqual(octet[i].map { String(format: "%016llx", fnv1a64($0.pixels)) }, hashes[i] as? String,
                           "\(f.name): Octet and Pillow must decode it alike (\(pillow))")
        }
    }
}

final class NPYTests: XCTestCase {
    func testRoundTripAndErrors() throws {
        let dir = try TestPaths.temporaryDirectory(self)
        let path = dir.appendingPathComponent("x.npy").path
        let values: [Float] = (0..<24).map { Float($0) * 0.5 }
        try NPYFile.write(path: path, shape: [2, 3, 4], values: values)
        let back = try NPYFile.read(path: path)
        XCTAssertEqual(back.shape, [2, 3, 4])
        XCTAssertEqual(back.values, values)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.removeLast(3)
        XCTAssertThrowsError(try NPYFile.parse(data, path: "t.npy")) { XCTAssertTrue("\($0)".contains("data bytes"), "\($0)") }
        XCTAssertThrowsError(try NPYFile.parse(Data("garbage!!!!".utf8), path: "g.npy")) { XCTAssertTrue("\($0)".contains("magic")) }
        var huge = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }\n"
        huge.append(contentsOf: [UInt8(header.utf8.count), 0])
        huge.append(contentsOf: Array(header.utf8))
        XCTAssertThrowsError(try NPYFile.parse(huge, path: "huge.npy")) { XCTAssertTrue("\($0)".contains("too large"), "\($0)") }
    }
}

