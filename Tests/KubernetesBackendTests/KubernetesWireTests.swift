import Foundation
import Testing
import TrainyardKubernetes

@Suite("Kubernetes wire format: watch streams and error mapping")
struct KubernetesWireTests {
    @Test("lines split across chunks, several in one chunk, blank keep-alive lines")
    func splitter() {
        var splitter = KubernetesWatchLineSplitter()
        #expect(splitter.append(Array("{\"a\":".utf8)).isEmpty)
        #expect(splitter.append(Array("1}\n\n{\"b\":2}\n{\"c\"".utf8)) == [Array("{\"a\":1}".utf8), Array("{\"b\":2}".utf8)])
        #expect(splitter.remainder == Array("{\"c\"".utf8))
        // A multi-byte character split between chunks survives.
        let text = Array("{\"é\":1}\n".utf8)
        #expect(splitter.append(Array(":0}\n".utf8) + text[0..<3]) == [Array("{\"c\":0}".utf8)])
        #expect(splitter.append(text[3...]) == [Array("{\"é\":1}".utf8)])
    }

    @Test("event types decode; ERROR carries the Status with code 410")
    func events() throws {
        let added = Array(#"{"type":"ADDED","object":{"metadata":{"name":"p","resourceVersion":"7"},"status":{"phase":"Running"}}}"#.utf8)
        guard case .added(let pod) = try KubernetesWatchEventDecoder.decode(added, as: KubernetesPod.self) else {
            Issue.record("not ADDED")
            return
        }
        #expect(pod.metadata.resourceVersion == "7" && pod.status?.phase == "Running")
        let bookmark = Array(#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"12"}}}"#.utf8)
        guard case .bookmark(let version) = try KubernetesWatchEventDecoder.decode(bookmark, as: KubernetesPod.self) else {
            Issue.record("not BOOKMARK")
            return
        }
        #expect(version == "12")
        let expired = Array(#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}}"#.utf8)
        guard case .error(let status) = try KubernetesWatchEventDecoder.decode(expired, as: KubernetesPod.self) else {
            Issue.record("not ERROR")
            return
        }
        #expect(status.code == 410)
        #expect(throws: (any Error).self) {
            try KubernetesWatchEventDecoder.decode(Array(#"{"type":"WEIRD","object":{}}"#.utf8), as: KubernetesPod.self)
        }
    }

    @Test("errors map to what the caller should do; 403 names the missing RBAC verb")
    func errorMapping() {
        func kind(_ code: Int, _ reason: String? = nil, _ message: String? = nil) -> KubernetesError.Kind {
            KubernetesError.from(
                statusCode: code, status: KubernetesStatus(message: message, reason: reason, code: code), verb: "create", resource: "jobs.batch",
                namespace: "ml"
            ).kind
        }
        #expect(kind(409, "AlreadyExists") == .alreadyExists)
        #expect(kind(404, "NotFound") == .notFound)
        #expect(kind(410, "Gone") == .gone)
        #expect(kind(429) == .transient && kind(500) == .transient && kind(503) == .transient)
        #expect(kind(422, "Invalid") == .invalid)
        #expect(kind(401) == .configuration)
        #expect(kind(403, "Forbidden", "exceeded quota: compute, requested: nvidia.com/gpu=8") == .quotaExceeded)
        let forbidden = KubernetesError.from(
            statusCode: 403, status: KubernetesStatus(message: "jobs.batch is forbidden", reason: "Forbidden", code: 403), verb: "delete",
            resource: "jobs.batch", namespace: "ml")
        #expect(forbidden.kind == .configuration)
        #expect(forbidden.message.contains("\"delete\"") && forbidden.message.contains("jobs.batch") && forbidden.message.contains("\"ml\""))
    }

    @Test("retry backoff: full jitter under an exponential ceiling")
    func backoff() {
        let policy = KubernetesRetryPolicy(baseDelaySeconds: 0.2, maxDelaySeconds: 1)
        for _ in 0..<100 {
            #expect((0...0.2).contains(policy.delay(beforeAttempt: 2)))
            #expect((0...0.8).contains(policy.delay(beforeAttempt: 4)))
            #expect((0...1).contains(policy.delay(beforeAttempt: 20)))
        }
    }
}
