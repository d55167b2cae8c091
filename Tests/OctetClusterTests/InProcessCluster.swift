import Foundation
import OctetCluster
import OctetJobs
import OctetPipeline

/// A coordinator and workers on threads of the test process, joined by the in-memory transport:
/// the whole protocol and job lifecycle, without sockets or processes.
final class InProcessCluster {
    let network = InMemoryNetwork()
    let coordinator: Coordinator
    let store: JobStore
    var workers: [Worker] = []
    private var finished: [DispatchSemaphore] = []

    /// `workerISAs[i]`, when given, is the kernel path worker i runs (its `--isa`); the default is the
    /// best one. The coordinator pins `coordinatorISA` for calibrations that name no path.
    init(directory: URL, workers count: Int, threadsPerWorker: Int = 1, settings: CoordinatorSettings = CoordinatorSettings(),
         decodeAhead: Bool = false, workerISAs: [ISA] = [], coordinatorISA: ISA = .best) throws {
        store = try JobStore(path: directory.appendingPathComponent("jobs.sqlite").path)
        let blobs = try BlobStore(directory: directory.appendingPathComponent("blobs").path)
        let handlers = JobKinds.handlers(blobs: blobs, store: store, directory: directory.appendingPathComponent("jobs").path, threads: 2,
                                         isa: coordinatorISA)
        coordinator = Coordinator(core: CoordinatorCore(settings: settings, blobs: blobs, handlers: handlers), store: store,
                                  transport: network.server())
        spawn { [coordinator] in try? coordinator.run() }
        for i in 0..<count {
            let cache = try BlobStore(directory: directory.appendingPathComponent("cache-\(i)").path)
            let isa = i < workerISAs.count ? workerISAs[i] : .best
            let core = WorkerCore(hello: JobKinds.hello(id: "worker-\(i)", threads: threadsPerWorker, isa: isa), cache: cache)
            let w = Worker(core: core, transport: network.connect(), runners: JobKinds.runners(cache: cache, threads: threadsPerWorker, isa: isa),
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
