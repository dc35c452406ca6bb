import Foundation
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
        let cache = KubernetesStateCache()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        cache.upsert(job: job("a"))
        cache.upsert(job: job("b"))
        cache.upsert(pod: pod(of: "a"))
        cache.recordStop("a", reason: "cancel")
        #expect(cache.snapshot("a").pods.count == 1)
        cache.replaceJobs([job("b")], now: start)
        #expect(cache.snapshot("a").jobDeleted && cache.snapshot("a").job == nil && cache.knows("a"))
        #expect(!cache.snapshot("b").jobDeleted)
        cache.replaceJobs([job("b")], now: start.addingTimeInterval(1800))
        #expect(cache.knows("a"), "still remembered within the hour")
        cache.replaceJobs([job("b")], now: start.addingTimeInterval(3601))
        #expect(!cache.knows("a") && cache.snapshot("a").stopReason == nil && cache.snapshot("a").pods.isEmpty)
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
