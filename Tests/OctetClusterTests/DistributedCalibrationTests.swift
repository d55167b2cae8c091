import Foundation
import OctetCluster
import OctetData
import OctetJobs
import OctetPipeline
import OctetTestSupport
import XCTest

/// A calibration distributed over 1, 2 or 3 workers, with any shard size, writes the same bytes
/// as a single-process calibration; distributed inference writes every prediction once, in order.
final class DistributedCalibrationTests: XCTestCase {
    /// The options every test of this file calibrates with, changed by `tweak`.
    func options(_ tweak: (inout QuantConfig) -> Void = { _ in }) -> QuantConfig {
        var o = QuantConfig()
        o.samples = 20
        o.reportSamples = 2
        tweak(&o)
        return o
    }

    /// `shipped`: the first `shipped` images of the folder go through the coordinator (`--ship-data`)
    /// instead of being read from the shared path.
    func spec(_ client: ClusterClient, shardSize: Int, options: QuantConfig, shipped: Int? = nil) throws -> JobSpec {
        var dataset = DatasetSpec(path: TestPaths.imageSample, labels: nil, manifest: nil, recipe: .efficientNetLite)
        if let shipped {
            let folder = try ImageFolderDataset(directory: TestPaths.imageSample, labels: nil, recipe: .efficientNetLite)
            dataset = try DatasetSpec.shipping(folder.items.prefix(shipped), recipe: .efficientNetLite, through: client)
        }
        var job = CalibrationJobOptions(dataset: dataset, calibration: options)
        job.shardSize = shardSize
        job.verifySamples = 4
        return job.spec(modelHash: try client.uploadFile(TestPaths.efficientNet), modelName: "effnet")
    }

    /// The output lines of an inference task's result, as `octet submit infer` writes them.
    func lines(_ directory: URL) -> (Octet_Wire_TaskResult) throws -> [String] {
        { try InferenceOutputs.lines(of: $0, shardDirectory: directory.path) }
    }

    func testAnyWorkerCountAndShardSizeGivesTheSingleProcessBytes() throws {
        let q = try assertClusterGivesTheSingleProcessBytes(options())
        XCTAssertTrue(q.table.entries.allSatisfy { $0.params.dtype == .uint8 })
    }

    /// The same with s8 symmetric activations (`--symmetric-activations`): the option reaches the
    /// workers and the coordinator's table, and every activation is s8 with zero point 0. With the
    /// accuracy-driven search too (a bound the all-INT8 model misses), on top of the workers' weight
    /// analysis: the shards observed every tensor the exclusions of both could need. The 2-worker
    /// run ships its images (each task, the search's included, lists the images it reads).
    func testSymmetricActivationsAndTheAccuracySearchGiveTheSingleProcessBytes() throws {
        let q = try assertClusterGivesTheSingleProcessBytes(options {
            $0.symmetricActivations = true
            $0.accuracy = AccuracyBound(maxDrop: 0.05, metric: .sqnr)
        }, calibrationTasks: 15, runs: [ClusterRun(workers: 1, shardSize: 20), ClusterRun(workers: 2, shardSize: 7, shipped: 40)])
        XCTAssertTrue(q.table.entries.allSatisfy { $0.params.dtype == .int8 && $0.params.zeroPoint == 0 })
        XCTAssertFalse(q.accuracy?.returned.isEmpty ?? true, "the search returned no layer to FP32: the bound did not exercise it")
    }

    /// The same with the accuracy-driven search (`--max-drop`, a bound the all-INT8 model misses on
    /// the validation rows, so layers are ranked and returned), cross-layer equalization and
    /// high-bias absorption (EfficientNet-Lite0's ReLU6 all clip, so nothing is absorbed: the
    /// option's plumbing is what this covers), weight ranges chosen on the outputs and AdaRound at
    /// those ranges (20 iterations: the plumbing, not the optimum), bias correction
    /// and the over-clipping guard off, and 4 statistics samples.
    func testAccuracySearchEqualizationAndOtherOptionsGiveTheSingleProcessBytes() throws {
        let q = try assertClusterGivesTheSingleProcessBytes(options {
            $0.accuracy = AccuracyBound(maxDrop: 0.05, metric: .sqnr)   // an output SQNR of 33 dB on the 5 validation rows
            $0.biasCorrection = false
            $0.sensitivitySamples = 4
            $0.overClipMarginDB = .infinity
            $0.crossLayerEqualization = true
            $0.highBiasAbsorption = true
            $0.weightRanges = .outputs
            $0.weightRounding = .adaround
            $0.adaRound.iterations = 20
        }, calibrationTasks: 15, runs: [ClusterRun(workers: 1, shardSize: 20), ClusterRun(workers: 2, shardSize: 7, shipped: 40)])
        XCTAssertNotNil(q.weightScales)
        XCTAssertFalse(q.roundedUp?.isEmpty ?? true)
        let a = try XCTUnwrap(q.accuracy)
        XCTAssertLessThan(a.allInt8, 100 - 0.05, "the bound must make the search return layers")
        XCTAssertFalse(a.returned.isEmpty)
    }

    /// AdaRound at the default weight ranges runs on the workers, its layers in 8 groups of about
    /// equal work, one task each (`weightChoiceGroups`); the coordinator merges the rounding and
    /// runs the analysis with it. The bytes are those of one process whatever the workers. (With
    /// ranges chosen on the outputs too: `testAccuracySearchEqualizationAndOtherOptions…`.)
    func testAdaRoundOnTheWorkersGivesTheSingleProcessBytes() throws {
        let q = try assertClusterGivesTheSingleProcessBytes(options {
            $0.weightRounding = .adaround
            $0.adaRound.iterations = 20   // the plumbing, not the optimum
        }, runs: [ClusterRun(workers: 1, shardSize: 20), ClusterRun(workers: 2, shardSize: 7)])
        XCTAssertFalse(q.roundedUp?.isEmpty ?? true, "AdaRound chose no rounding")
    }

    /// One cluster of the comparison: its worker count, shard size, and the kernel paths of the
    /// coordinator and of each worker (empty: the best path).
    struct ClusterRun {
        var workers: Int
        var shardSize: Int
        var coordinatorISA: ISA = .best
        var workerISAs: [ISA] = []
        /// Images shipped through the coordinator (the first ones, enough for the job), or nil:
        /// read from the shared path.
        var shipped: Int? = nil
    }

    /// One calibration job gives one INT8 model whatever `--isa` the coordinator and each worker
    /// run. A calibration job pins the kernel path of its FP32 passes (the coordinator's `--isa`
    /// unless the job names one), and workers run its tasks on that path whatever their own; the
    /// paths avx512vnni and avx512 share their FP32 kernels, so the statistics are the same, and
    /// the weight bits no longer follow the path. The single-process reference runs on the vnni
    /// path; the clusters' coordinators on avx512 and on vnni, with workers on either.
    func testTheINT8PathsOfCoordinatorAndWorkersDoNotChangeTheBytes() throws {
        guard ISA.avx512.isSupported, ISA.avx512vnni.isSupported else {
            throw XCTSkip("needs both the avx512vnni and avx512 paths (same FP32 kernels); this CPU has \(ISA.supported.map(\.rawValue))")
        }
        try assertClusterGivesTheSingleProcessBytes(options(), referenceISA: .avx512vnni, runs: [
            ClusterRun(workers: 2, shardSize: 7, coordinatorISA: .avx512, workerISAs: [.avx512vnni, .avx512]),
            ClusterRun(workers: 2, shardSize: 5, coordinatorISA: .avx512vnni, workerISAs: [.avx512, .avx512]),
        ])
    }

    @discardableResult
    func assertClusterGivesTheSingleProcessBytes(_ options: QuantConfig, calibrationTasks: Int = 20, referenceISA: ISA = .best,
                                                 runs: [ClusterRun] = [ClusterRun(workers: 1, shardSize: 20), ClusterRun(workers: 2, shardSize: 7),
                                                                       ClusterRun(workers: 3, shardSize: 3)]) throws -> QuantizedModel {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let data = try openDataset(path: TestPaths.imageSample, labels: nil, recipe: .efficientNetLite, limit: nil)
        let config = try options.on(PlanOptions(isa: referenceISA, threads: 2))
        let q = try quantizeModel(try ModelLoader.load(path: TestPaths.efficientNet), calibrationData: data, config: config)
        let reference = dir.appendingPathComponent("single")
        _ = try CalibrationArtifacts.writeAll(q, config: config, data: data, modelName: "effnet",
                                              modelSHA256: ContentHash.sha256(try Data(contentsOf: URL(fileURLWithPath: TestPaths.efficientNet))),
                                              recipe: .efficientNetLite, to: reference.path)

        for (i, run) in runs.enumerated() {
            let (workers, shardSize) = (run.workers, run.shardSize)
            let cluster = try InProcessCluster(directory: dir.appendingPathComponent("cluster-\(i)"), workers: workers,
                                               workerISAs: run.workerISAs, coordinatorISA: run.coordinatorISA)
            defer { cluster.stop() }
            let client = cluster.client()
            let report = try client.wait(try client.submit(try spec(client, shardSize: shardSize, options: options, shipped: run.shipped)))
            XCTAssertEqual(report.state, "done", report.error)
            // The weight analysis (one task, when the workers can measure it: default weight ranges
            // and rounding), the shards, the report's 2 samples (one task each) and 4 verification samples.
            // With weights chosen on the outputs or by AdaRound: 8 groups of layers instead (the analysis then runs on the coordinator).
            let analysis = options.weightRanges == .outputs || options.weightRounding == .adaround ? 8
                : (options.sensitivityMarginDB != nil || options.biasCorrection) ? 1 : 0
            // With an accuracy bound: the search's measurements in batches of up to 8 tasks (the
            // all-INT8 model, the ranking, then speculative batches of the greedy choice and pruning).
            let search = try cluster.store.tasks(of: report.jobID).filter { $0.kind == CalibrationTask.search.rawValue }.count
            if options.accuracy != nil { XCTAssertGreaterThan(search, 8, "the search ran its measurements on the workers") } else { XCTAssertEqual(search, 0) }
            XCTAssertEqual(Int(report.tasksDone), analysis + (calibrationTasks + shardSize - 1) / shardSize + search + 2 + (4 + shardSize - 1) / shardSize)
            let out = dir.appendingPathComponent("out-\(i)")
            _ = try client.fetchArtifacts(report, to: out.path)
            for file in ["calibration.json", "calibration.cache", "effnet.int8.onnx"] {
                let a = try Data(contentsOf: reference.appendingPathComponent(file))
                let b = try Data(contentsOf: out.appendingPathComponent(file))
                XCTAssertEqual(a, b, "\(file) differs with \(workers) workers and shards of \(shardSize), coordinator \(run.coordinatorISA), workers \(run.workerISAs)")
            }
            let summary = try JSONSerialization.jsonObject(with: Data(report.summaryJson.utf8)) as? [String: Any]
            XCTAssertEqual(summary?["verification_samples"] as? Int, 4)
            XCTAssertEqual(summary?["verification_held_out"] as? Bool, true)
            XCTAssertGreaterThanOrEqual(summary?["agreement"] as? Double ?? 0, 0.75)
        }
        return q
    }

    func inferenceSpec(_ client: ClusterClient, model: String, offset: Int, limit: Int, batch: Int) throws -> JobSpec {
        var options = InferenceJobOptions(dataset: DatasetSpec(path: TestPaths.imageSample, labels: TestPaths.imageLabels, manifest: nil,
                                                               recipe: .efficientNetLite, offset: offset, limit: limit))
        options.batch = batch
        return options.spec(modelHash: try client.uploadFile(model), modelName: "m")
    }

    /// Workers that hold two tasks and decode the next one's images while one computes write
    /// the same top-1s as the INT8 session run locally.
    func testInferenceWritesEveryPredictionOnceInInputOrder() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let (model, qdq) = try TestModels.quickInt8Model(in: dir)
        let cluster = try InProcessCluster(directory: dir.appendingPathComponent("cluster"), workers: 2, decodeAhead: true)
        defer { cluster.stop() }
        let client = cluster.client()
        let spec = try inferenceSpec(client, model: model, offset: 3, limit: 37, batch: 5)
        let id = try client.submit(spec)
        let out = dir.appendingPathComponent("p.jsonl").path
        let output = try CommittedOutput(creating: out, job: id, modelHash: spec.modelHash)
        let last = try client.streamResults(id, into: output, lines: lines(dir))
        XCTAssertEqual(last.state, "done", last.error)
        XCTAssertEqual(output.log.tasks, 8)
        XCTAssertEqual(output.log.lines, 37)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        let predictions = try lines.map { try JSONDecoder().decode(PredictionLine.self, from: Data($0.utf8)) }
        XCTAssertEqual(predictions.map(\.index), Array(0..<37))
        let sliced = DatasetSlice(try openDataset(path: TestPaths.imageSample, labels: TestPaths.imageLabels, recipe: .efficientNetLite, limit: nil), range: 3..<40)
        XCTAssertEqual(predictions.map(\.file), (0..<37).map { sliced.name($0) })
        // The same top-1 as the INT8 session run locally on the same images.
        let session = try deployQDQ(qdq, threads: 2)
        let input = try ClassificationRun.loadBatch(sliced, 0..<37, chw: session.chw, threads: 2)
        let logits = try XCTUnwrap(try session.run(input).floats)
        let classes = logits.count / 37
        for (i, p) in predictions.enumerated() {
            XCTAssertEqual(p.top1, TopK.indices(Array(logits[(i * classes)..<((i + 1) * classes)]), k: 1).first)
            XCTAssertEqual(p.label, sliced.label(i))
        }
        // Every task's result was released once the client committed it.
        XCTAssertEqual(try cluster.store.storedResults(job: id), 0)
    }

    /// A model that is not a classifier (PP-OCR's text detector, letterboxed to multiples of 32
    /// so images of different aspect ratios give different input sizes): with `outputs: tensors`
    /// every output of every image lands in the tasks' `.npz` shards, and the index says where;
    /// each row equals the same INT8 model run locally on that image alone.
    func testEveryOutputOfADetectorLandsInShards() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let detector = TestPaths.shared.appendingPathComponent("models/zoo/ppocrv4_det.onnx").path
        let recipe = PreprocessRecipe(name: "det-96", resizeShorter: 96, crop: nil, pixelDivisor: 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
                                      channelOrder: .bgr, letterbox: .init(multiple: 32))
        var config = QuantConfig()
        config.samples = 2
        config.sensitivityMarginDB = nil
        config.plan = PlanOptions(threads: 2)
        let q = try quantizeModel(try ModelLoader.load(path: detector), calibrationData: try ImageFolderDataset(directory: TestPaths.imageSample, recipe: recipe, limit: 2),
                                  config: config)
        let model = dir.appendingPathComponent("det.int8.onnx")
        try ONNXExporter.write(q.qdq, to: model)

        let cluster = try InProcessCluster(directory: dir.appendingPathComponent("cluster"), workers: 2)
        defer { cluster.stop() }
        let client = cluster.client()
        var options = InferenceJobOptions(dataset: DatasetSpec(path: TestPaths.imageSample, labels: nil, manifest: nil, recipe: recipe, offset: 0, limit: 9))
        options.batch = 4
        options.outputs = .tensors
        let spec = options.spec(modelHash: try client.uploadFile(model.path), modelName: "det")
        let id = try client.submit(spec)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let output = try CommittedOutput(creating: out.appendingPathComponent("index.jsonl").path, job: id, modelHash: spec.modelHash)
        let last = try client.streamResults(id, into: output, lines: lines(out))
        XCTAssertEqual(last.state, "done", last.error)

        let lines = try String(contentsOf: out.appendingPathComponent("index.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(TensorShard.Line.self, from: Data($0.utf8)) }
        XCTAssertEqual(lines.map(\.index), Array(0..<9))
        XCTAssertEqual(Set(lines.map(\.shard)), ["shard-000000.npz", "shard-000001.npz", "shard-000002.npz"])
        let data = try ImageFolderDataset(directory: TestPaths.imageSample, recipe: recipe, limit: 9)
        XCTAssertEqual(lines.map(\.file), (0..<9).map { data.name($0) })
        let local = try ModelRun(graph: q.qdq, options: PlanOptions(threads: 2))
        var shapes = Set<[Int]>()
        for line in lines {
            let shard = try NPZFile.read(path: out.appendingPathComponent(line.shard).path)
            let expected = try XCTUnwrap(local.outputs(data, line.index..<(line.index + 1)).first?.outputs)
            XCTAssertEqual(Set(line.rows.keys), Set(local.outputNames))
            for (name, where_) in line.rows {
                let array = try XCTUnwrap(shard.first { $0.name == where_.array }, "\(where_.array) missing from \(line.shard)")
                let per = array.shape.dropFirst().reduce(1, *)
                let row = Array(array.values[(where_.row * per)..<((where_.row + 1) * per)])
                let want = try XCTUnwrap(expected[name]?.floats)
                XCTAssertEqual(row, want, "image \(line.index), output \(name)")
                shapes.insert(Array(array.shape.dropFirst()))
            }
        }
        XCTAssertGreaterThan(shapes.count, 1, "the images gave inputs of one size only: the groups were not exercised")
    }

    /// A folder where some images cannot be read (a truncated JPEG, a text file named `.jpg`): each
    /// gets a line saying why, in its place, and
    /// every other image its output, equal to the same model run locally on it alone; for top-k
    /// lines (workers decoding ahead) and for kept outputs (shards around the gaps).
    func testUnreadableImagesGetErrorLinesAndTheOthersTheirOutputs() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let (model, qdq) = try TestModels.quickInt8Model(in: dir)
        let folder = dir.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = try ImageFolderDataset(directory: TestPaths.imageSample, recipe: .efficientNetLite, limit: 6)
        for i in 0..<6 { try FileManager.default.copyItem(atPath: try XCTUnwrap(source.file(i)), toPath: folder.appendingPathComponent("img\(i).jpg").path) }
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: try XCTUnwrap(source.file(0))))
        try jpeg.prefix(jpeg.count / 3).write(to: folder.appendingPathComponent("img1.jpg"))
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("img4.jpg"))
        let unreadable: [Int: String] = [1: "cannot decode image", 4: "unsupported image format"]

        let cluster = try InProcessCluster(directory: dir.appendingPathComponent("cluster"), workers: 2, decodeAhead: true)
        defer { cluster.stop() }
        let client = cluster.client()
        let data = try ImageFolderDataset(directory: folder.path, recipe: .efficientNetLite)
        let local = try ModelRun(graph: qdq, options: PlanOptions(threads: 2))
        for outputs in [InferenceJobOptions.Outputs.topk, .tensors] {
            var options = InferenceJobOptions(dataset: DatasetSpec(path: folder.path, labels: nil, manifest: nil, recipe: .efficientNetLite))
            options.batch = 3
            options.outputs = outputs
            let spec = options.spec(modelHash: try client.uploadFile(model), modelName: "m")
            let id = try client.submit(spec)
            let out = dir.appendingPathComponent("out-\(outputs.rawValue)")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let output = try CommittedOutput(creating: out.appendingPathComponent("lines.jsonl").path, job: id, modelHash: spec.modelHash)
            let last = try client.streamResults(id, into: output, lines: lines(out))
            XCTAssertEqual(last.state, "done", last.error)
            let text = try String(contentsOf: out.appendingPathComponent("lines.jsonl"), encoding: .utf8)
            let lines = text.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.count, 6, text)
            XCTAssertEqual(try UnreadableLine.count(inFile: output.path), 2)
            for (i, line) in lines.enumerated() {
                if let cause = unreadable[i] {
                    let u = try JSONDecoder().decode(UnreadableLine.self, from: Data(line.utf8))
                    XCTAssertEqual(u.index, i)
                    XCTAssertEqual(u.file, "img\(i).jpg")
                    XCTAssertTrue(u.error.contains(cause) && u.error.contains("img\(i).jpg"), u.error)
                    continue
                }
                XCTAssertFalse(line.hasPrefix("{\"error\""), line)
                // The image alone, run locally.
                let expected = try XCTUnwrap(local.outputs(data, i..<(i + 1)).first?.outputs[local.outputNames[0]]?.floats)
                if outputs == .topk {
                    let p = try JSONDecoder().decode(PredictionLine.self, from: Data(line.utf8))
                    XCTAssertEqual(p.index, i)
                    XCTAssertEqual(p.file, "img\(i).jpg")
                    XCTAssertEqual(p.classes, TopK.indices(expected, k: 5), "image \(i)")
                } else {
                    let l = try JSONDecoder().decode(TensorShard.Line.self, from: Data(line.utf8))
                    XCTAssertEqual(l.index, i)
                    let row = try XCTUnwrap(l.rows[local.outputNames[0]])
                    let array = try XCTUnwrap(try NPZFile.read(path: out.appendingPathComponent(l.shard).path).first { $0.name == row.array })
                    let per = array.shape.dropFirst().reduce(1, *)
                    XCTAssertEqual(Array(array.values[(row.row * per)..<((row.row + 1) * per)]), expected, "image \(i)")
                }
            }
        }
    }

    /// A client that stops reading holds the job at the output window (results stored on the
    /// coordinator never exceed it); a client killed between writing lines and committing them
    /// resumes from the commit log, and the output equals a fault-free run's, line for line.
    func testSlowClientHoldsTheJobAndAResumedClientWritesEachLineOnce() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let (model, _) = try TestModels.quickInt8Model(in: dir)
        var settings = CoordinatorSettings()
        settings.outputWindow = 3
        let cluster = try InProcessCluster(directory: dir.appendingPathComponent("cluster"), workers: 2, settings: settings)
        defer { cluster.stop() }
        let client = cluster.client()
        let spec = try inferenceSpec(client, model: model, offset: 0, limit: 30, batch: 2)

        let reference = dir.appendingPathComponent("reference.jsonl").path
        let first = try client.submit(spec)
        _ = try client.streamResults(first, into: try CommittedOutput(creating: reference, job: first, modelHash: spec.modelHash), lines: lines(dir))

        let id = try client.submit(spec)
        let out = dir.appendingPathComponent("p.jsonl").path
        var output: CommittedOutput? = try CommittedOutput(creating: out, job: id, modelHash: spec.modelHash)
        // Read two batches of 2 tasks, then stop reading: the job runs on to the window and waits.
        for _ in 0..<2 {
            var b = try client.results(id, from: output!.log.tasks, maxTasks: 2)
            while b.results.count < 2 { Thread.sleep(forTimeInterval: 0.02); b = try client.results(id, from: output!.log.tasks, maxTasks: 2) }
            try output!.commit(lines: try b.results.flatMap(lines(dir)), tasks: 2)
        }
        _ = try client.results(id, from: 4)  // commits tasks 0..<4
        Thread.sleep(forTimeInterval: 1.0)
        cluster.coordinator.inspect { core in
            XCTAssertEqual(core.tasksDone(id), 4 + settings.outputWindow, "the job ran exactly to the window beyond the commit")
            XCTAssertEqual(core.jobs[id]?.state, .running)
            XCTAssertEqual(core.status().jobs.first { $0.id == id }?.waitingForClient, true, "the status says the job waits for its client")
        }
        XCTAssertEqual(try cluster.store.storedResults(job: id), settings.outputWindow)
        // Killed after appending a task's lines but before committing them.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: out))
        handle.seekToEndOfFile()
        handle.write(Data("{\"uncommitted\": true}\n{\"partial".utf8))
        try handle.close()
        output = nil

        let resumed = try CommittedOutput(resuming: out)
        XCTAssertEqual(resumed.log.tasks, 4)
        let last = try client.streamResults(id, into: resumed, lines: lines(dir))
        XCTAssertEqual(last.state, "done", last.error)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), try String(contentsOfFile: reference, encoding: .utf8))
        XCTAssertEqual(resumed.log.lines, 30)
        // Committed tasks cannot be asked for again: their results are gone.
        XCTAssertThrowsError(try client.results(id, from: 2)) { XCTAssertTrue("\($0)".contains("already committed"), "\($0)") }
        XCTAssertThrowsError(try CommittedOutput(resuming: dir.appendingPathComponent("none.jsonl").path)) {
            XCTAssertTrue("\($0)".contains("nothing to resume"), "\($0)")
        }
    }
}
