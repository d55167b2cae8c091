import Foundation
import OctetCluster
import OctetPipeline

/// A coordinator and workers on threads of the test process, joined by the in-memory transport:
/// the whole protocol and job lifecycle, without sockets or processes.
final class InProcessCluster {
    let network = InMemoryNetwork()
    let coordinator: Coordinator
    var workers: [Worker] = []
    private var finished: [DispatchSemaphore] = []

    /// `workerISAs[i]`, when given, is the kernel path worker i runs (its `--isa`); the default is the best one.
    init(directory: URL, workers count: Int, threadsPerWorker: Int = 1, settings: CoordinatorSettings? = nil, decodeAhead: Bool = false,
         workerISAs: [ISA] = []) throws {
        let s = settings ?? CoordinatorSettings(defaultISA: ISA.best.rawValue, threads: 2)
        let store = try JobStore(path: directory.appendingPathComponent("jobs.sqlite").path)
        let blobs = try BlobStore(directory: directory.appendingPathComponent("blobs").path)
        coordinator = Coordinator(core: try CoordinatorCore(settings: s, store: store, blobs: blobs), transport: network.server(),
                                  runner: JobRunner(blobs: blobs, store: store, directory: directory.appendingPathComponent("jobs").path, threads: s.threads))
        spawn { [coordinator] in try? coordinator.run() }
        for i in 0..<count {
            let cache = try BlobStore(directory: directory.appendingPathComponent("cache-\(i)").path)
            let isa = i < workerISAs.count ? workerISAs[i] : .best
            let core = WorkerCore(hello: Worker.hello(id: "worker-\(i)", threads: threadsPerWorker, isa: isa), cache: cache)
            let w = Worker(core: core, transport: network.connect(), executor: TaskExecutor(cache: cache, threads: threadsPerWorker, isa: isa),
                           decodeAhead: decodeAhead)
            workers.append(w)
            spawn { w.run() }
        }
    }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        finished.append(done)
        Thread.detachNewThread { body(); done.signal() }
    }

    func client() -> ClusterClient { ClusterClient(transport: network.connect(), timeoutSeconds: 60) }

    func stop() {
        for w in workers { w.stop() }
        coordinator.stop()
        for d in finished { _ = d.wait(timeout: .now() + 60) }
    }
}
