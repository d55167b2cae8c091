import Foundation
import OctetTestSupport
import XCTest

/// The dependency arrows of docs/architecture.md, checked on the sources: a file may import what
/// its target reaches through its declared dependencies, and the cluster reaches nothing of the
/// ML stack.
final class LayeringTests: XCTestCase {
    /// Each target's direct dependencies on Octet's own modules, as Package.swift declares them.
    func declaredDependencies() throws -> [String: Set<String>] {
        let manifest = try String(contentsOf: TestPaths.repoRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        let target = try NSRegularExpression(pattern: #"\.(?:executableTarget|target)\(name: "([A-Za-z-]+)", dependencies: \[([^\]]*)\]"#)
        let quoted = try NSRegularExpression(pattern: #""(Octet[A-Za-z]*|C[A-Z][A-Za-z0-9]*)""#)
        var out: [String: Set<String>] = [:]
        for m in target.matches(in: manifest, range: NSRange(manifest.startIndex..., in: manifest)) {
            guard let name = Range(m.range(at: 1), in: manifest), let deps = Range(m.range(at: 2), in: manifest) else { continue }
            let list = String(manifest[deps])
            out[String(manifest[name])] = Set(quoted.matches(in: list, range: NSRange(list.startIndex..., in: list)).compactMap {
                Range($0.range(at: 1), in: list).map { String(list[$0]) }
            })
        }
        return out
    }

    /// The Octet modules (and C shims) the sources of `target` import.
    func imports(of target: String) throws -> [String: Set<String>] {
        let folder = TestPaths.repoRoot.appendingPathComponent("Sources/\(target)")
        var out: [String: Set<String>] = [:]
        let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        for file in files where file.pathExtension == "swift" {
            for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") where line.hasPrefix("import ") {
                let module = String(line.dropFirst("import ".count)).trimmingCharacters(in: .whitespaces)
                if module.hasPrefix("Octet") || (module.first == "C" && module.dropFirst().first?.isUppercase == true) {
                    out[file.lastPathComponent, default: []].insert(module)
                }
            }
        }
        return out
    }

    /// The modules `target` reaches through its declared dependencies.
    func reachable(from target: String, _ declared: [String: Set<String>]) -> Set<String> {
        var seen: Set<String> = [], stack = Array(declared[target] ?? [])
        while let next = stack.popLast() {
            guard seen.insert(next).inserted else { continue }
            stack += declared[next] ?? []
        }
        return seen
    }

    /// Every source file imports only Octet modules (and C shims) its target reaches through the
    /// dependencies it declares.
    func testSourcesImportOnlyWhatTheirTargetsDependOn() throws {
        let declared = try declaredDependencies()
        XCTAssertGreaterThanOrEqual(declared.count, 12, "Package.swift's targets were not found: \(declared.keys.sorted())")
        for target in declared.keys.sorted() where FileManager.default.fileExists(atPath: TestPaths.repoRoot.appendingPathComponent("Sources/\(target)").path) {
            let allowed = reachable(from: target, declared)
            for (file, modules) in try imports(of: target) {
                let extra = modules.subtracting(allowed).subtracting([target])
                XCTAssertTrue(extra.isEmpty, "Sources/\(target)/\(file) imports \(extra.sorted()), which \(target) does not depend on")
            }
        }
    }

    /// The cluster carries jobs, not calibration: it depends on no module of the ML stack, and
    /// the job kinds (OctetJobs) depend on it, not the other way round.
    func testTheClusterKnowsJobsNotCalibration() throws {
        let declared = try declaredDependencies()
        let cluster = reachable(from: "OctetCluster", declared)
        XCTAssertTrue(cluster.contains("CZMQ"), "OctetCluster's dependencies were not read: \(cluster.sorted())")
        let mlStack: Set = ["OctetIR", "OctetONNX", "OctetPasses", "OctetKernels", "OctetRuntime", "OctetData", "OctetCalibration",
                            "OctetZoo", "OctetPipeline", "OctetJobs"]
        XCTAssertTrue(cluster.isDisjoint(with: mlStack), "OctetCluster depends on \(cluster.intersection(mlStack).sorted())")
        XCTAssertEqual(declared["OctetJobs"].map { $0.isSuperset(of: ["OctetCluster", "OctetPipeline"]) }, true)
        for (file, modules) in try imports(of: "OctetCluster") {
            XCTAssertTrue(modules.isDisjoint(with: mlStack), "Sources/OctetCluster/\(file) imports \(modules.intersection(mlStack).sorted())")
        }
    }
}
