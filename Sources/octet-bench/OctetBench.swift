import ArgumentParser
import Foundation
import OctetPipeline

/// Benchmarks that print throughput and the ratio to a baseline measured in the same run.
@main
struct OctetBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "octet-bench",
        abstract: "Octet benchmarks (release builds only give meaningful numbers).",
        subcommands: [FP32Bench.self, Int8Bench.self, ClusterBench.self, InferBench.self])
}

/// Options every benchmark takes.
struct BenchOptions: ParsableArguments {
    @Option(help: "EfficientNet-Lite0 ONNX file (skipped when missing).")
    var efficientnet: String = "../shared/models/efficientnet_lite0_fp32.onnx"

    @Option(help: "Timed iterations per configuration.")
    var iterations: Int = 5

    @Option(parsing: .upToNextOption, help: "Batch sizes.")
    var batches: [Int] = [1, 32]

    @Option(parsing: .upToNextOption, help: "Thread counts.")
    var threads: [Int] = [1, 2]

    @Option(help: "Python interpreter with onnxruntime for the baseline ('none' to skip).")
    var python: String = "python3"

    /// ONNX Runtime's images/s for `model`, or nil when skipped or unavailable.
    func onnxRuntime(_ model: String, batch: Int, threads: Int) -> Double? {
        python == "none" ? nil : ORTBaseline.imagesPerSecond(python: python, model: model, batch: batch, threads: threads, iterations: iterations)
    }
}

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
func median(_ values: [Double]) -> Double {
    let v = values.sorted()
    guard !v.isEmpty else { return 0 }
    return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
}

/// Octet's and ONNX Runtime's best of `rounds` alternating runs: a shared machine's interference
/// only slows a run down, so each engine keeps its fastest.
func bestOfRounds(_ rounds: Int, octet: () throws -> BenchmarkReport, ort: () -> Double?) rethrows -> (BenchmarkReport, Double?) {
    var best = try octet()
    var bestORT = ort()
    for _ in 1..<max(rounds, 1) {
        let again = try octet()
        if again.imagesPerSecond > best.imagesPerSecond { best = again }
        if let o = ort() { bestORT = max(bestORT ?? 0, o) }
    }
    return (best, bestORT)
}

struct FP32Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fp32",
        abstract: "ResNet-18 and EfficientNet-Lite0 FP32 at batch 1 and 32, 1 and 2 threads, against ONNX Runtime.")

    @OptionGroup var common: BenchOptions

    @Option(help: "Kernel path (default: best).")
    var isa: String?

    @Flag(help: "Instead: every model of --zoo-dir at batch 8 (32 for 224×224 inputs), 2 threads, against ONNX Runtime FP32.")
    var zoo = false

    @Option(help: "The model zoo folder (each MODEL.onnx with MODEL.preprocess.json giving its input size).")
    var zooDir: String = "../shared/models/zoo"

    @Option(help: "Measure Octet and ONNX Runtime alternately this many times per row (per model with --zoo) and keep each one's best (a shared machine's interference only slows a run down).")
    var rounds: Int = 1

    func run() throws {
        if zoo { return try runZoo() }
        print("machine: \(Machine.description)")
        if rounds > 1 { print("best of \(rounds) alternating runs of each engine") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let resnetPath = dir.appendingPathComponent("resnet18.onnx").path
        try ONNXExporter.write(ResNet.build(.resnet18), to: URL(fileURLWithPath: resnetPath))
        var models = [("resnet18", resnetPath)]
        if FileManager.default.fileExists(atPath: common.efficientnet) { models.append(("efficientnet-lite0", common.efficientnet)) }
        let chosen = try isa.map { try ISA.named($0) } ?? ISA.best
        // The path's FMA peak on this machine, measured by a committed loop (ck_peak.h).
        let loop = FP32PeakLoop.bounding(chosen)
        let fmaPeak = loop?.measure()
        if let loop, let fmaPeak { print(String(format: "peak %@ FMA (%@): %.0f GFLOPS per core", chosen.rawValue, loop.rawValue, fmaPeak)) }
        print("(GFLOPS count every convolution's direct sums; Winograd layers do fewer, so % FMA peak can pass 100)")

        print("| model | batch | threads | isa | octet img/s | GFLOPS | % FMA peak | ORT img/s | octet/ORT |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (name, path) in models {
            let graph = try ModelLoader.load(path: path)
            for b in common.batches {
                for t in common.threads {
                    let (r, ort) = try bestOfRounds(rounds,
                        octet: { try Benchmark.run(graph: graph, options: PlanOptions(isa: chosen, threads: t), batch: b, iterations: common.iterations) },
                        ort: { common.onnxRuntime(path, batch: b, threads: t) })
                    let peak = fmaPeak.map { String(format: "%.0f%%", r.gflops / ($0 * Double(t)) * 100) } ?? "n/a"
                    let ortText = ort.map { String(format: "%.1f", $0) } ?? "n/a"
                    let ratio = ort.map { String(format: "%.2f×", r.imagesPerSecond / $0) } ?? "n/a"
                    print(String(format: "| %@ | %d | %d | %@ | %.1f | %.1f | %@ | %@ | %@ |", name, b, t, r.isa, r.imagesPerSecond, r.gflops, peak, ortText, ratio))
                }
            }
        }
    }
}

extension FP32Bench {
    /// Every zoo model against ONNX Runtime in the same run; prints the machine, a table and the geometric mean.
    func runZoo() throws {
        print("machine: \(Machine.description)")
        if rounds > 1 { print("best of \(rounds) alternating runs of each engine") }
        let models = try FileManager.default.contentsOfDirectory(atPath: zooDir).filter { $0.hasSuffix(".onnx") }.sorted()
        guard !models.isEmpty else { throw ValidationError("no .onnx models in \(zooDir)") }
        let chosen = try isa.map { try ISA.named($0) } ?? ISA.best
        let threads = common.threads.count == 1 ? common.threads[0] : 2
        print("| model | input | batch | threads | isa | octet img/s | ORT img/s | octet/ORT |")
        print("|---|---|---|---|---|---|---|---|")
        var logs: [Double] = []
        for file in models {
            let path = (zooDir as NSString).appendingPathComponent(file)
            let graph = try ModelLoader.load(path: path)
            guard let input = graph.inputs.first(where: { graph.initializers[$0.name] == nil }) else { continue }
            // The input size: the declared one, else the size the model's recipe produces.
            var dims = input.dims.map { $0 ?? 0 }
            if input.hasSymbolicNonBatchDimension {
                let recipe = try PreprocessRecipe.resolve(nil, modelPath: path)
                let side = recipe.crop ?? recipe.resizeShorter ?? 224
                let size = recipe.cropSize ?? recipe.resizeTo ?? recipe.letterbox?.size ?? [side, side]
                dims = [1, 3, size[0], size[1]]
            }
            dims[0] = 1
            let batch = dims.suffix(2) == [224, 224] ? 32 : 8
            let shape = Shape(dims)
            let (r, ort) = try bestOfRounds(rounds,
                octet: { try Benchmark.run(graph: graph, options: PlanOptions(isa: chosen, threads: threads), batch: batch,
                                           iterations: common.iterations, inputShapes: [input.name: shape]) },
                ort: { common.python == "none" ? nil : ORTBaseline.imagesPerSecond(
                    python: common.python, model: path, batch: batch, threads: threads, iterations: common.iterations,
                    shape: Array(dims.dropFirst())) })
            if let ort { logs.append(log(r.imagesPerSecond / ort)) }
            let ortText = ort.map { String(format: "%.1f", $0) } ?? "n/a"
            let ratio = ort.map { String(format: "%.2f×", r.imagesPerSecond / $0) } ?? "n/a"
            print(String(format: "| %@ | %@ | %d | %d | %@ | %.1f | %@ | %@ |", String(file.dropLast(5)),
                         dims.dropFirst().map(String.init).joined(separator: "×"), batch, threads, r.isa, r.imagesPerSecond, ortText, ratio))
        }
        if !logs.isEmpty { print(String(format: "geometric mean octet/ORT: %.2f× over %d models", exp(logs.reduce(0, +) / Double(logs.count)), logs.count)) }
    }
}

/// The CPU the numbers were measured on: /proc/cpuinfo's model name and the SIMD flags that matter.
enum Machine {
    static var description: String {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n")
        let model = lines.first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let flags = Set(lines.first { $0.hasPrefix("flags") }.map { $0.split(separator: " ").map(String.init) } ?? [])
        let shown = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni"].filter(flags.contains)
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores, flags: \(shown.joined(separator: " "))"
    }
}

/// ONNX Runtime's throughput, measured by `scripts/ort_bench.py` in a child process.
enum ORTBaseline {
    /// Writes ONNX Runtime's `quantize_static` QDQ file of `fp32` to `out` (`scripts/ort_quantize.py`,
    /// 8 calibration images, per-channel int8 weights, uint8 activations: the encoding whose
    /// convolutions ONNX Runtime runs on its integer kernels on x86; with int8 activations it runs
    /// most of them in float); false when it fails or onnxruntime is missing.
    static func quantize(python: String, fp32: String, out: String, images: String) -> Bool {
        let arguments = [fp32, out, "--images", images, "--samples", "8", "--activations", "uint8"]
        guard let run = try? RepositoryScript.run(python: python, "ort_quantize.py", arguments) else { return false }
        return run.status == 0 && FileManager.default.fileExists(atPath: out)
    }

    /// One line saying how many of ONNX Runtime's output values on `data` differ from Octet's
    /// (exact integer arithmetic on every path, tested against the reference executor): 0 where
    /// ONNX Runtime's kernels are exact (VNNI); on its vpmaddubsw paths (AVX2, AVX512BW without
    /// VNNI) its u8·s8 pair sums saturate by design.
    static func exactness(python: String, fp32: Graph, fp32Path: String, qdq: Graph, qdqPath: String, data: any Dataset, dir: URL) throws -> String {
        let inputs = dir.appendingPathComponent("exactness.in.npz").path, outputs = dir.appendingPathComponent("exactness.out.npz").path
        _ = try evaluateWithLogits(fp32: fp32, int8: qdq, data: data, batch: data.count, options: PlanOptions(threads: 2),
                                   saveOutputs: try NPZWriter(path: outputs), saveInputs: try NPZWriter(path: inputs))
        let run = try RepositoryScript.run(python: python, "ort_zoo_check.py", [fp32Path, qdqPath, inputs, outputs])
        guard run.status == 0, let line = String(decoding: run.output, as: UTF8.self).split(separator: "\n").last,
              let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
              let compared = json["outputs"] as? [String: [String: Any]] else {
            return "ONNX Runtime vs Octet (exact) on its file: the comparison failed (scripts/ort_zoo_check.py)"
        }
        let parts = compared.keys.sorted().map { name -> String in
            let e = compared[name] ?? [:]
            let differing = e["octet_vs_ort_int8_differing"] as? Int ?? -1, values = e["values"] as? Int ?? 0
            let db = e["octet_vs_ort_int8_sqnr_db"] as? Double ?? .nan
            return "\(name): \(differing) of \(values) values differ" + (differing > 0 ? String(format: " (%.1f dB)", db) : "")
        }
        return "ONNX Runtime vs Octet (exact) on its file, \(data.count) images: " + parts.joined(separator: "; ")
    }

    static func imagesPerSecond(python: String, model: String, batch: Int, threads: Int, iterations: Int, shape: [Int]? = nil) -> Double? {
        let arguments = [model, "--batch", "\(batch)", "--threads", "\(threads)", "--iterations", "\(iterations)"]
            + (shape.map { ["--shape", $0.map(String.init).joined(separator: "x")] } ?? [])
        guard let run = try? RepositoryScript.run(python: python, "ort_bench.py", arguments) else { return nil }
        // The child's teardown keeps a core busy for a moment after it exits; let it finish so
        // the next measurement (possibly Octet's latency mode, which needs every core) is fair.
        Thread.sleep(forTimeInterval: 2)
        guard run.status == 0 else { return nil }
        let text = String(decoding: run.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Double(text.split(separator: "\n").last ?? "")
    }
}

struct Int8Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "int8",
        abstract: "INT8 ResNet-18 and EfficientNet-Lite0 on every ISA path, against ONNX Runtime running the same QDQ file and our FP32.")

    @OptionGroup var common: BenchOptions

    @Option(help: "Calibration images (a folder).")
    var data: String = "../shared/data/imagenet-sample"

    @Option(parsing: .upToNextOption, help: "ISA paths (default: every SIMD path this CPU has; with --zoo, the best one; scalar is minutes per batch).")
    var paths: [String] = []

    @Option(help: "Also write a bar chart (SVG) of images/s per configuration: Octet INT8, ONNX Runtime INT8, Octet FP32.")
    var svg: String?

    @Option(help: "Rounds per configuration, each measuring Octet INT8 then ONNX Runtime; each engine's best round is reported (on a shared machine both then get their quietest window; with --zoo, each engine's median round, Octet FP32 included).")
    var rounds: Int = 1

    @Option(parsing: .upToNextOption, help: "Weight bits of the calibrated models (8: the default model, widened to 16 bits on the vpmaddubsw paths; 7: what those paths run with vpmaddubsw).")
    var weightBits: [Int] = [QuantConfig.defaultWeightBits]

    @Option(help: "Also bench ONNX Runtime's own quantize_static QDQ file of each model (scripts/ort_quantize.py) on Octet and ONNX Runtime.")
    var ortFile: Bool = true

    @Flag(help: "Instead: every model of --zoo-dir calibrated by Octet (kl, 32 images, its recipe) at batch 32 (8 for inputs larger than 224×224), 2 threads, on the best path (or each of --paths): Octet INT8 against ONNX Runtime INT8 on the same file and against Octet FP32 on the same path.")
    var zoo = false

    @Option(help: "The model zoo folder (each MODEL.onnx with MODEL.preprocess.json).")
    var zooDir: String = "../shared/models/zoo"

    @Option(parsing: .singleValue, help: "With --zoo, bench MODEL at input height H and width W instead of its recipe's size (MODEL=HxW, repeatable; a model with dynamic sides, such as ppocr_mobile_v2_cls=48x192, PaddleOCR's own classifier shape). Calibration still uses the recipe.")
    var zooShape: [String] = []

    func run() throws {
        if zoo { return try runZoo(paths: paths.isEmpty ? [ISA.best] : try paths.map { try ISA.named($0) }) }
        let chosen = paths.isEmpty ? ISA.supported.filter { $0 != .scalar } : try paths.map { try ISA.named($0) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-bench8-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var models: [(String, Graph, PreprocessRecipe)] = [("resnet18", ResNet.build(.resnet18), .imagenet)]
        if FileManager.default.fileExists(atPath: common.efficientnet) {
            models.append(("efficientnet-lite0", try ModelLoader.load(path: common.efficientnet), .efficientNetLite))
        }
        var chart = BarChart(title: "INT8 images/s on this machine (octet-bench int8)", unit: "images per second (higher is better)",
                             series: ["Octet INT8", "ONNX Runtime INT8", "Octet FP32"], rows: [])
        defer { if let svg { try? Data(chart.svg().utf8).write(to: URL(fileURLWithPath: svg)) } }
        print("machine: \(Machine.description)")
        // The instruction peak on one core of each loop bounding a row (ck_peak.h), measured now:
        // per path, and for 8-bit weights on the vpmaddubsw paths the vpmaddwd loop.
        var peaks: [Int8PeakLoop: Double] = [:]
        for isa in chosen {
            for bits in Set(weightBits + [8]).sorted() {
                guard let loop = Int8PeakLoop.bounding(isa, weightBits: bits), peaks[loop] == nil,
                      let gops = loop.measure(seconds: 0.05, rounds: 10) else { continue }
                peaks[loop] = gops
                print(String(format: "peak %@ %d-bit weights (%@): %.0f GOPS per core", isa.rawValue, bits, loop.rawValue, gops))
            }
        }
        print("(the avx512 and avx2 paths run 8-bit weights widened to 16 bits under vpmaddwd: their rows' % is of the vpmaddwd loop's peak)")
        print("| model | file | path | batch | threads | INT8 img/s | GOPS | % of path peak | ORT INT8 img/s | ×ORT | ×our FP32 |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        /// One table row per (path, batch, threads) of an INT8 QDQ file, with ONNX Runtime on the same file.
        func rows(_ name: String, _ weights: String, bits: Int, qdq: Graph, path: String, fp32: Graph) throws {
            for isa in chosen {
                for b in common.batches {
                    for t in common.threads {
                        var r = try Benchmark.runInt8(graph: qdq, isa: isa, threads: t, batch: b, iterations: common.iterations)
                        var ort = common.onnxRuntime(path, batch: b, threads: t)
                        for _ in 1..<max(rounds, 1) {
                            let again = try Benchmark.runInt8(graph: qdq, isa: isa, threads: t, batch: b, iterations: common.iterations)
                            if again.imagesPerSecond > r.imagesPerSecond { r = again }
                            if let o = common.onnxRuntime(path, batch: b, threads: t) { ort = max(ort ?? 0, o) }
                        }
                        let f = try Benchmark.run(graph: fp32, options: PlanOptions(isa: isa, threads: t), batch: b, iterations: common.iterations)
                        let bound = Int8PeakLoop.bounding(isa, weightBits: bits).flatMap { peaks[$0] }
                        let peak = bound.map { r.gflops / ($0 * Double(t)) * 100 } ?? .nan
                        chart.rows.append(("\(name) \(weights) \(isa.rawValue) b\(b) t\(t)", [r.imagesPerSecond, ort, f.imagesPerSecond]))
                        print(String(format: "| %@ | %@ | %@ | %d | %d | %.1f | %.0f | %.0f%% | %@ | %@ | %.2f× |", name, weights, isa.rawValue, b, t,
                                     r.imagesPerSecond, r.gflops, peak, ort.map { String(format: "%.1f", $0) } ?? "n/a",
                                     ort.map { String(format: "%.2f×", r.imagesPerSecond / $0) } ?? "n/a", r.imagesPerSecond / f.imagesPerSecond))
                    }
                }
            }
        }
        var exactness: [String] = []
        defer { exactness.forEach { print($0) } }
        for (name, fp32, recipe) in models {
            let images = try ImageFolderDataset(directory: data, recipe: recipe, limit: 32)
            for bits in weightBits {
                var config = QuantConfig()
                config.samples = 32
                config.quantize.weightBits = bits
                let q = try quantizeModel(fp32, calibrationData: images, config: config)
                let path = dir.appendingPathComponent("\(name)-w\(bits).int8.onnx").path
                try ONNXExporter.write(q.qdq, to: URL(fileURLWithPath: path))
                // The file as a user runs it, like ONNX Runtime's below.
                try rows(name, "Octet \(bits)-bit", bits: bits, qdq: try ModelLoader.loadQDQ(path: path), path: path, fp32: q.fp32)
            }
            // ONNX Runtime's own quantize_static file of the same (BatchNorm-folded) FP32 model:
            // 8-bit per-channel weights, uint8 activations, which Octet runs exactly on every path.
            guard ortFile, common.python != "none" else { continue }
            let optimized = try ModelLoader.optimize(fp32)
            let fp32Path = dir.appendingPathComponent("\(name).fp32.onnx").path, ortPath = dir.appendingPathComponent("\(name).ort.int8.onnx").path
            try ONNXExporter.write(optimized, to: URL(fileURLWithPath: fp32Path))
            guard ORTBaseline.quantize(python: common.python, fp32: fp32Path, out: ortPath, images: data) else {
                print("| \(name) | ORT file | (ONNX Runtime's quantize_static failed or is not installed) |")
                continue
            }
            let ortQDQ = try ModelLoader.loadQDQ(path: ortPath)
            try rows(name, "ORT file", bits: 8, qdq: ortQDQ, path: ortPath, fp32: optimized)
            exactness.append("\(name): " + (try ORTBaseline.exactness(python: common.python, fp32: optimized, fp32Path: fp32Path, qdq: ortQDQ, qdqPath: ortPath,
                                            data: DatasetSlice(images, range: 0..<min(8, images.count)), dir: dir)))
        }
    }
}

extension Int8Bench {
    /// `--zoo-shape`'s input sides by model name.
    func zooSides() throws -> [String: (height: Int, width: Int)] {
        var sides: [String: (height: Int, width: Int)] = [:]
        for entry in zooShape {
            let parts = entry.split(separator: "=", maxSplits: 1)
            let hw = parts.count == 2 ? parts[1].split(separator: "x").compactMap { Int($0) } : []
            guard parts.count == 2, hw.count == 2, hw.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("--zoo-shape \(entry): expected MODEL=HxW, such as ppocr_mobile_v2_cls=48x192")
            }
            sides[String(parts[0])] = (hw[0], hw[1])
        }
        return sides
    }

    /// The shortest timed run of the zoo table (its iterations are raised to last this long).
    static let minimumRunSeconds = 0.25

    /// Every zoo model: Octet's calibration, then Octet INT8, ONNX Runtime INT8 on the same file and
    /// Octet FP32, in the same run; the profile's FP32 islands counted per model.
    func runZoo(paths: [ISA]) throws {
        let sides = try zooSides()
        print("machine: \(Machine.description)")
        if rounds > 1 { print("median of \(rounds) alternating runs of each engine") }
        print(String(format: "each timed run: at least --iterations batches and %.2f s at INT8's speed", Self.minimumRunSeconds))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-bench8-zoo-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let models = try FileManager.default.contentsOfDirectory(atPath: zooDir).filter { $0.hasSuffix(".onnx") }.sorted()
        guard !models.isEmpty else { throw ValidationError("no .onnx models in \(zooDir)") }
        let threads = 2
        if let unknown = sides.keys.sorted().first(where: { !models.contains("\($0).onnx") }) {
            throw ValidationError("--zoo-shape \(unknown): no such model in \(zooDir)")
        }
        print("| model | input | batch | threads | isa | INT8 img/s | ORT INT8 img/s | ×ORT | FP32 img/s | INT8/FP32 | tables | FP32 islands |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        var vsORT: [ISA: [Double]] = [:], vsFP32: [ISA: [Double]] = [:]
        for file in models {
            let name = String(file.dropLast(5))
            let path = (zooDir as NSString).appendingPathComponent(file)
            let fp32 = try ModelLoader.load(path: path)
            let recipe = try PreprocessRecipe.resolve(nil, modelPath: path)
            let images = try ImageFolderDataset(directory: data, recipe: recipe, limit: 32)
            var config = QuantConfig()
            config.samples = 32
            config.plan = PlanOptions(threads: threads)
            let q = try quantizeModel(fp32, calibrationData: images, config: config)
            let int8Path = dir.appendingPathComponent("\(name).int8.onnx").path
            try ONNXExporter.write(q.qdq, to: URL(fileURLWithPath: int8Path))
            // The file as a user runs it (`octet bench FILE`, `octet run`): loaded back, cleaned.
            let qdq = try ModelLoader.loadQDQ(path: int8Path)
            let recipeDims = try images.loadShaped(0).dims
            guard let input = fp32.inputs.first(where: { fp32.initializers[$0.name] == nil }) else { continue }
            let dims = try sides[name].map { sides in
                guard recipeDims.count == 3 else { throw ValidationError("--zoo-shape \(name): its input is not channels × height × width") }
                return [recipeDims[0], sides.height, sides.width]
            } ?? recipeDims
            let shape = Shape([1] + dims)
            let batch = dims.count == 3 && dims[1] * dims[2] > 224 * 224 ? 8 : 32
            for isa in paths {
                let probe = try Benchmark.runInt8(graph: qdq, isa: isa, threads: threads, batch: batch, iterations: common.iterations,
                                                  inputShapes: [input.name: shape])
                // Every timed run of this model lasts at least `minimumRunSeconds` at INT8's speed
                // (5 batches of a 24×24 model are 3 ms, where this machine's noise is ±50%); the
                // probe counts as the first INT8 run only when it was long enough.
                let iterations = max(common.iterations, Int((Self.minimumRunSeconds * probe.imagesPerSecond / Double(batch)).rounded(.up)))
                var int8Runs = iterations == common.iterations ? [probe.imagesPerSecond] : []
                var fp32Runs: [Double] = [], ortRuns: [Double] = []
                // Octet FP32 alternates with the INT8 engines too, over the same rounds, and each
                // engine's median round is reported: on a shared VM the best of a few runs is luck
                // (one binary against itself: best-of-30 ratio 1.31, medians within 1%).
                for round in 0..<max(rounds, 1) {
                    if round > 0 || int8Runs.isEmpty {
                        let again = try Benchmark.runInt8(graph: qdq, isa: isa, threads: threads, batch: batch, iterations: iterations,
                                                          inputShapes: [input.name: shape])
                        int8Runs.append(again.imagesPerSecond)
                    }
                    let f = try Benchmark.run(graph: q.fp32, options: PlanOptions(isa: isa, threads: threads), batch: batch,
                                              iterations: iterations, inputShapes: [input.name: shape])
                    fp32Runs.append(f.imagesPerSecond)
                    if common.python != "none", let o = ORTBaseline.imagesPerSecond(python: common.python, model: int8Path, batch: batch, threads: threads,
                                                                                     iterations: iterations, shape: dims) {
                        ortRuns.append(o)
                    }
                }
                let int8 = median(int8Runs), fp32 = median(fp32Runs)
                let ort: Double? = ortRuns.isEmpty ? nil : median(ortRuns)
                let labels = try Int8Plan(graph: qdq, isa: isa, inputShapes: [input.name: shape]).makeProfile().labels
                // Standalone lookups and those fused into the convolution before them.
                let tables = labels.filter { $0.hasPrefix("table: ") || $0.hasPrefix("channel tables: ") || $0.contains(" + table") }.count
                let islands = labels.filter { $0.hasPrefix("fp32 island: ") }.count
                if let ort { vsORT[isa, default: []].append(log(int8 / ort)) }
                vsFP32[isa, default: []].append(log(int8 / fp32))
                print(String(format: "| %@ | %@ | %d | %d | %@ | %.1f | %@ | %@ | %.1f | %.2f× | %d | %d |", name,
                             dims.map(String.init).joined(separator: "×"), batch, threads, isa.rawValue, int8,
                             ort.map { String(format: "%.1f", $0) } ?? "n/a", ort.map { String(format: "%.2f×", int8 / $0) } ?? "n/a",
                             fp32, int8 / fp32, tables, islands))
            }
        }
        func mean(_ logs: [Double]) -> Double { exp(logs.reduce(0, +) / Double(max(logs.count, 1))) }
        for isa in paths {
            if let o = vsORT[isa] { print(String(format: "%@: geometric mean INT8 ×ORT INT8: %.2f× over %d models", isa.rawValue, mean(o), o.count)) }
            let f = vsFP32[isa] ?? []
            print(String(format: "%@: geometric mean INT8 ×Octet FP32: %.2f× over %d models", isa.rawValue, mean(f), f.count))
        }
    }
}
