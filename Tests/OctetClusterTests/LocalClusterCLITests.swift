import Foundation
import OctetCluster
import OctetJobs
import OctetTestSupport
import XCTest

/// The user's path through the CLI: `octet cluster up`, `submit calibrate --ship-data --wait`,
/// `status`, HTTP `/status` and `/metrics`, `submit infer`, Ctrl-C.
final class LocalClusterCLITests: XCTestCase {
    func testClusterUpCalibrateShippedDataMonitorAndInfer() throws {
        try TestPaths.requireShared()
        let dir = try TestPaths.temporaryDirectory(self)
        let endpoint = "ipc://" + dir.appendingPathComponent("c.ipc").path
        let port = Int.random(in: 20_000..<60_000)
        let cluster = try OctetProcess(["cluster", "up", "--workers", "2", "--bind", endpoint, "--state", dir.appendingPathComponent("state").path,
                                        "--http", "127.0.0.1:\(port)", "--threads", "1"], log: dir.appendingPathComponent("cluster.log"))
        let out = dir.appendingPathComponent("cal").path
        let calibrate = try runProduct("octet", ["submit", "calibrate", TestPaths.efficientNet, "--data", TestPaths.imageSample,
                                                 "--preprocess", "efficientnet-lite", "--limit", "24", "--samples", "16", "--shard-size", "4",
                                                 "--verify-samples", "8", "--report-samples", "2", "--ship-data",
                                                 // Equalization reads the first statistics samples on every worker, whatever its shards.
                                                 "--equalize", "--statistics-samples", "6",
                                                 "--coordinator", endpoint, "--wait", "--out", out, "--json"])
        XCTAssertEqual(calibrate.status, 0, calibrate.stderr + cluster.output)
        let summary = try XCTUnwrap(calibrate.json, calibrate.stdout)
        XCTAssertEqual(summary["verification_samples"] as? Int, 8)
        XCTAssertEqual(summary["verification_held_out"] as? Bool, true)
        let model = out + "/efficientnet_lite0_fp32.int8.onnx"
        for f in [model, out + "/calibration.json", out + "/calibration.cache", out + "/report.md", out + "/efficientnet_lite0_fp32.int8.preprocess.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: f), f)
        }

        let status = try runProduct("octet", ["status", "--coordinator", endpoint, "--json"])
        XCTAssertEqual(status.status, 0, status.stderr)
        let workers = try XCTUnwrap(status.json?["workers"] as? [[String: Any]])
        XCTAssertEqual(workers.compactMap { $0["id"] as? String }.sorted(), ["local-1", "local-2"])
        XCTAssertEqual((status.json?["jobs"] as? [[String: Any]])?.first?["state"] as? String, "done")
        let table = try runProduct("octet", ["status", "--coordinator", endpoint])
        XCTAssertTrue(table.stdout.contains("local-1") && table.stdout.contains("calibrate"), table.stdout)

        let httpStatus = try httpGet(port: port, path: "/status")
        XCTAssertTrue(httpStatus.hasPrefix("HTTP/1.1 200"), httpStatus)
        XCTAssertTrue(httpStatus.contains("\"workers\""), httpStatus)
        let metrics = try httpGet(port: port, path: "/metrics")
        XCTAssertTrue(metrics.contains("octet_tasks_completed_total"), metrics)
        XCTAssertTrue(metrics.contains("octet_workers"), metrics)
        XCTAssertTrue(try httpGet(port: port, path: "/nope").hasPrefix("HTTP/1.1 404"))

        let preds = dir.appendingPathComponent("preds.jsonl").path
        // No --preprocess: the recipe travels beside the INT8 model (MODEL.int8.preprocess.json).
        let infer = try runProduct("octet", ["submit", "infer", model, "--data", TestPaths.imageSample, "--labels", TestPaths.imageLabels,
                                             "--limit", "20", "--batch", "6", "--ship-data",
                                             "--coordinator", endpoint, "--out", preds])
        XCTAssertEqual(infer.status, 0, infer.stderr)
        XCTAssertTrue(infer.stdout.contains("20 predictions in"), infer.stdout)
        let lines = try String(contentsOfFile: preds, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 20)
        let first = try JSONDecoder().decode(PredictionLine.self, from: Data(lines[0].utf8))
        XCTAssertEqual(first.index, 0)
        XCTAssertEqual(first.file, "n01440764_tench.JPEG")
        XCTAssertEqual(first.label, 0)
        // The same classifier with every output kept: a folder of shards and their index.
        let tensors = dir.appendingPathComponent("tensors").path
        // No --batch: a 224×224 model gets 32 images per task, so the 5 images are one task.
        let all = try runProduct("octet", ["submit", "infer", model, "--data", TestPaths.imageSample, "--limit", "5",
                                           "--outputs", "tensors", "--coordinator", endpoint, "--out", tensors, "--json"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(all.json?["outputs"] as? String, "tensors")
        let index = try String(contentsOfFile: tensors + "/index.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(index.count, 5)
        let shard = try NPZFile.read(path: tensors + "/shard-000000.npz")
        XCTAssertEqual(shard.first?.shape, [5, 1000], "one task of the five images' logits")
        // Images that cannot be read get a line saying why; the others their predictions, as in
        // the run above; the command says how many and exits 2.
        let mixed = dir.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: mixed, withIntermediateDirectories: true)
        let firstImage = URL(fileURLWithPath: TestPaths.imageSample).appendingPathComponent(first.file)
        try FileManager.default.copyItem(at: firstImage, to: mixed.appendingPathComponent("a.jpg"))
        try Data(try Data(contentsOf: firstImage).prefix(100)).write(to: mixed.appendingPathComponent("b.jpg"))
        try FileManager.default.copyItem(at: firstImage, to: mixed.appendingPathComponent("c.jpg"))
        let partial = try runProduct("octet", ["submit", "infer", model, "--data", mixed.path, "--batch", "2", "--ship-data",
                                               "--coordinator", endpoint, "--out", dir.appendingPathComponent("mixed.jsonl").path, "--json"])
        XCTAssertEqual(partial.status, 2, partial.stderr)
        XCTAssertTrue(partial.stderr.contains("1 of 3 images could not be read"), partial.stderr)
        XCTAssertEqual(partial.json?["unreadable"] as? Int, 1)
        XCTAssertEqual(partial.json?["state"] as? String, "done")
        let mixedLines = try String(contentsOfFile: dir.appendingPathComponent("mixed.jsonl").path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(mixedLines.count, 3)
        XCTAssertTrue(mixedLines[1].hasPrefix("{\"error\":") && mixedLines[1].contains("b.jpg"), String(mixedLines[1]))
        for k in [0, 2] {
            let p = try JSONDecoder().decode(PredictionLine.self, from: Data(mixedLines[k].utf8))
            XCTAssertEqual(p.classes, first.classes)
            XCTAssertEqual(p.scores, first.scores)
        }
        // An inference job's output is the client's file: fetch says so instead of downloading nothing.
        let fetch = try runProduct("octet", ["fetch", try XCTUnwrap(all.json?["job"] as? String), "--out", dir.appendingPathComponent("f").path,
                                             "--coordinator", endpoint])
        XCTAssertNotEqual(fetch.status, 0)
        XCTAssertTrue(fetch.stderr.contains("is an inference job") && fetch.stderr.contains("--resume"), fetch.stderr)

        // A job that cannot run fails with its cause and a non-zero exit.
        let fp32AsInt8 = try runProduct("octet", ["submit", "infer", TestPaths.efficientNet, "--data", TestPaths.imageSample,
                                                  "--coordinator", endpoint, "--out", preds])
        XCTAssertNotEqual(fp32AsInt8.status, 0)
        XCTAssertTrue(fp32AsInt8.stderr.contains("not a QDQ"), fp32AsInt8.stderr)
        let missing = try runProduct("octet", ["submit", "calibrate", TestPaths.efficientNet, "--data", dir.appendingPathComponent("none").path,
                                               "--coordinator", endpoint, "--wait"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("none"), missing.stderr)

        cluster.signal(SIGINT)
        XCTAssertEqual(cluster.wait(), 0, cluster.output)
        XCTAssertTrue(cluster.output.contains("cluster down"), cluster.output)
    }
}
