import ArgumentParser
import Dispatch
import Foundation
import OctetCluster
import OctetData
import OctetKernels
import OctetPipeline

/// End-to-end distributed INT8 inference against the engine alone and a plain Python script.
struct InferBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer",
        abstract: "Distributed INT8 inference end to end (a coordinator and worker processes; `octet submit infer` from start to the last line written) against the same engine on preprocessed tensors and a plain Pillow + ONNX Runtime script, in one run.")

    @Option(help: "INT8 QDQ model (default: EfficientNet-Lite0 calibrated here on the first 64 images).")
    var model: String?

    @Option(help: "FP32 model calibrated when --model is not given.")
    var efficientnet: String = "../shared/models/efficientnet_lite0_fp32.onnx"

    @Option(help: "Image folder.")
    var data: String = "../shared/data/imagenet-sample"

    @Option(help: "Preprocessing recipe (also the Python script's: efficientnet-lite or imagenet).")
    var preprocess: String = "efficientnet-lite"

    @Option(help: "Worker processes.")
    var workers: Int = 2

    @Option(help: "Threads per worker (the engine and the Python script use workers × this).")
    var threadsPerWorker: Int = 1

    @Option(help: "Tasks each worker holds at once (1: no prefetch; 2: the next task's images are decoded while one computes).")
    var credit: Int = 2

    @Flag(help: "Workers decode the next task's images while one computes (`octet worker --decode-ahead`).")
    var decodeAhead = false

    @Flag(help: "Decode JPEGs at a reduced DCT-domain scale (`submit infer --dct-scaling`; not Pillow's pixels).")
    var dctScaling = false

    @Option(help: "Images per task (and the engine's and the script's batch).")
    var batch: Int = 32

    @Option(help: "Timed jobs, after one warm-up job (the workers compile the model on their first task).")
    var rounds: Int = 3

    @Option(help: "Python interpreter with onnxruntime and Pillow for the baseline ('none' to skip).")
    var python: String = "python3"

    func run() throws {
        let octet = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("octet")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("octet-infer-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let threads = workers * threadsPerWorker
        print("machine: \(Machine.description)")
        let int8 = try model ?? calibrate(octet: octet, dir: dir)
        let images = try imageFiles().count

        try preprocessingCosts(of: try PreprocessRecipe.resolve(preprocess, modelPath: nil), images: 100)
        let engine = try Benchmark.runInt8(graph: try ModelLoader.loadQDQ(path: int8), isa: .best, threads: threads, batch: batch, iterations: 20)
        print(String(format: "engine alone (octet bench): %.1f images/s on preprocessed tensors, batch %d, %d threads, %@", engine.imagesPerSecond, batch, threads, engine.isa))

        let endpoint = "ipc://" + dir.appendingPathComponent("c.ipc").path
        var processes: [Process] = []
        defer { for p in processes where p.isRunning { kill(p.processIdentifier, SIGTERM) }; for p in processes { p.waitUntilExit() } }
        processes.append(try launch(octet, ["coordinator", "--bind", endpoint, "--state", dir.appendingPathComponent("state").path, "--threads", "1"]))
        for i in 0..<workers {
            processes.append(try launch(octet, ["worker", "--connect", endpoint, "--id", "bench-\(i)", "--threads", "\(threadsPerWorker)",
                                                "--credit", "\(credit)", "--cache", dir.appendingPathComponent("cache-\(i)").path] + (decodeAhead ? ["--decode-ahead"] : [])))
        }
        let client = ClusterClient(transport: try ZMQClientTransport(connect: endpoint, maxMessageBytes: 64 << 20))
        while (try? client.status().workers.count) != workers { Thread.sleep(forTimeInterval: 0.05) }
        var rates: [Double] = []
        let out = dir.appendingPathComponent("octet.jsonl").path
        for round in 0...max(rounds, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let p = try launch(octet, ["submit", "infer", int8, "--data", data, "--preprocess", preprocess, "--batch", "\(batch)",
                                       "--out", out, "--coordinator", endpoint, "--json"] + (dctScaling ? ["--dct-scaling"] : []))
            p.waitUntilExit()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            guard p.terminationStatus == 0 else { throw ValidationError("octet submit infer failed (status \(p.terminationStatus))") }
            let rate = Double(images) / seconds
            print(String(format: "  job %d%@: %.2f s, %.1f images/s", round, round == 0 ? " (warm-up)" : "", seconds, rate))
            if round > 0 { rates.append(rate) }
        }
        let best = rates.max() ?? 0
        print(String(format: "octet cluster end to end (%d workers × %d threads, credit %d%@%@, best of %d): %.1f images/s = %.0f%% of the engine alone", workers,
                     threadsPerWorker, credit, decodeAhead ? ", decode ahead" : "", dctScaling ? ", DCT scaling" : "", rates.count, best, best / engine.imagesPerSecond * 100))
        guard python != "none" else { return }
        var pythonRates: [Double] = []
        let pyOut = dir.appendingPathComponent("python.jsonl").path
        for _ in 0..<max(rounds, 1) {
            let run = try RepositoryScript.run(python: python, "python_pipeline.py",
                                               [int8, data, "--out", pyOut, "--recipe", preprocess, "--batch", "\(batch)", "--threads", "\(threads)"])
            guard run.status == 0, let json = try? JSONSerialization.jsonObject(with: run.output) as? [String: Any],
                  let rate = json["images_per_second"] as? Double else {
                print("python baseline: not measured (\(python) without onnxruntime or Pillow?)")
                return
            }
            pythonRates.append(rate)
        }
        let py = pythonRates.max() ?? 0
        print(String(format: "python script (Pillow + ONNX Runtime INT8, %d threads, best of %d): %.1f images/s; octet cluster / python = %.2f×",
                     threads, pythonRates.count, py, best / py))
        print(String(format: "top-1 agreement of the two outputs (Octet's INT8 kernels vs ONNX Runtime's, same file): %.1f%%", try agreement(out, pyOut) * 100))
    }

    func launch(_ octet: URL, _ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = octet
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    func calibrate(octet: URL, dir: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: efficientnet) else { throw ValidationError("\(efficientnet) not found: pass --model") }
        let out = dir.appendingPathComponent("model").path
        let p = try launch(octet, ["calibrate", efficientnet, "--data", data, "--preprocess", preprocess, "--samples", "64", "--out", out])
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("calibrating \(efficientnet) failed") }
        let name = URL(fileURLWithPath: efficientnet).deletingPathExtension().lastPathComponent
        return (out as NSString).appendingPathComponent("\(name).int8.onnx")
    }

    /// The folder's JPEG and PNG files, in name order.
    func imageFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: data)
            .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
    }

    /// What a worker's preparation of one image costs on one core, over the first `images` files
    /// of the folder: read and decode, resize and crop on this CPU's best resampling path and on
    /// the scalar twin (the same bytes; measured alternately, so both see the same machine), and
    /// normalization to floats.
    func preprocessingCosts(of recipe: PreprocessRecipe, images: Int) throws {
        let files = try imageFiles().prefix(images)
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        var decode = 0.0, normalize = 0.0, measured = 0
        var resize: [ISA: Double] = [:]
        let paths = [ISA.best, .scalar]
        for file in files {
            var image: RGBImage?
            // An unreadable image is left out of the costs (the job writes an error line for it).
            let t = seconds { image = try? recipe.decode(contentsOf: (data as NSString).appendingPathComponent(file)) }
            guard let image else { continue }
            decode += t
            measured += 1
            var crop = image
            for isa in paths { resize[isa, default: 0] += seconds { crop = recipe.resizedCrop(image, isa: isa) } }
            normalize += seconds { _ = recipe.normalize(crop) }
        }
        let n = Double(max(measured, 1)), best = resize[.best] ?? 0, scalar = resize[.scalar] ?? 0
        print(String(format: "preprocessing, one core, %d images (ms per image): read + decode %.2f, resize + crop %.2f on %@ (scalar twin %.2f: %.1f× slower), normalize %.2f",
                     measured, decode / n * 1e3, best / n * 1e3, ISA.best.description, scalar / n * 1e3, scalar / max(best, 1e-12),
                     normalize / n * 1e3) + (measured < files.count ? " (\(files.count - measured) unreadable images left out)" : ""))
    }

    /// The share of lines of two outputs with the same `top1`, matched by `index`.
    func agreement(_ a: String, _ b: String) throws -> Double {
        func top1(_ path: String) throws -> [Int: Int] {
            var out: [Int: Int] = [:]
            for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
                guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let i = o["index"] as? Int, let t = o["top1"] as? Int else { continue }
                out[i] = t
            }
            return out
        }
        let x = try top1(a), y = try top1(b)
        let same = x.filter { y[$0.key] == $0.value }.count
        return Double(same) / Double(max(x.count, 1))
    }
}
