import Foundation
import Synchronization
import Testing
import TrainyardBackends
import TrainyardKubernetes

@testable import KubernetesBackend

@Suite("Kubernetes state cache")
struct KubernetesStateCacheTests {
    func job(_ name: String) -> KubernetesJob {
        KubernetesJob(
            metadata: KubernetesObjectMeta(name: name),
            spec: KubernetesJob.Spec(
                backoffLimit: 0, activeDeadlineSeconds: nil, ttlSecondsAfterFinished: nil, podFailurePolicy: nil,
                template: KubernetesPodTemplate(metadata: nil, spec: KubernetesPodSpec(restartPolicy: "Never", containers: []))))
    }

    func pod(of jobName: String) -> KubernetesPod {
        KubernetesPod(metadata: KubernetesObjectMeta(name: "\(jobName)-x", labels: ["batch.kubernetes.io/job-name": jobName]))
    }

    @Test("a relist marks vanished Jobs deleted, keeps pods keyed by their Job, and forgets deleted Jobs after an hour")
    func relistAndForget() {
        let time = TestTime(Date(timeIntervalSince1970: 1_800_000_000))
        let cache = KubernetesStateCache(now: time.read)
        cache.upsert(job: job("a"))
        cache.upsert(job: job("b"))
        cache.upsert(job: job("c"))
        cache.upsert(pod: pod(of: "a"))
        cache.recordStop("a", reason: "cancel")
        #expect(cache.snapshot("a").pods.count == 1)
        cache.replaceJobs([job("b"), job("c")])
        #expect(cache.snapshot("a").jobDeleted && cache.snapshot("a").job == nil && cache.knows("a"))
        #expect(!cache.snapshot("b").jobDeleted)
        time.advance(by: 1800)
        cache.remove(job: job("c"))
        cache.replaceJobs([job("b")])
        #expect(cache.knows("a"), "still remembered within the hour")
        time.advance(by: 1801)
        cache.replaceJobs([job("b")])
        #expect(!cache.knows("a") && cache.snapshot("a").stopReason == nil && cache.snapshot("a").pods.isEmpty)
        #expect(cache.knows("c"), "deleted by the watch half an hour ago: remembered")
        time.advance(by: 1800)
        cache.replaceJobs([job("b")])
        #expect(!cache.knows("c"), "an hour after the watch saw it deleted: forgotten")
    }

    @Test("a Job read outside the watch never replaces what the watch delivered")
    func insertIfAbsent() {
        let cache = KubernetesStateCache()
        var watched = job("a")
        watched.metadata.resourceVersion = "20"
        cache.upsert(job: watched)
        var fetched = job("a")
        fetched.metadata.resourceVersion = "10"
        cache.insertIfAbsent(job: fetched, pods: [])
        #expect(cache.snapshot("a").job?.metadata.resourceVersion == "20")
        cache.remove(job: watched)
        cache.insertIfAbsent(job: fetched, pods: [])
        #expect(cache.snapshot("a").job == nil && cache.snapshot("a").jobDeleted, "a stale read does not resurrect a deleted Job")
    }
}

/// A wall clock that moves only when the test says.
final class TestTime: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date) { current = Mutex(start) }

    @Sendable func read() -> Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) { current.withLock { $0.addTimeInterval(seconds) } }
}
