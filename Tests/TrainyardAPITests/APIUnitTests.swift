import Foundation
import Testing
import TrainyardCore

@testable import TrainyardAPI
@testable import TrainyardStore

@Suite("API keys")
struct APIKeyTests {
    @Test("a created key authenticates as its team; the file holds only its hash, mode 0600")
    func createAndAuthenticate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("keys.yaml").path
        let teamKey = APIKeyFile.generateKey()
        let adminKey = APIKeyFile.generateKey()
        try APIKeyFile.append(key: teamKey, name: "ci", team: "vision", to: path)
        try APIKeyFile.append(key: adminKey, name: "ops", team: nil, to: path)
        #expect(teamKey.hasPrefix("ty_") && teamKey.count == 3 + 64)
        #expect(teamKey != adminKey)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(teamKey) && text.contains(APIKeyFile.hash(teamKey)))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let ring = APIKeyRing(try APIKeyFile(contentsOf: path))
        #expect(ring.principal(for: teamKey) == Principal(name: "ci", team: "vision"))
        #expect(ring.principal(for: adminKey)?.isAdmin == true)
        #expect(ring.principal(for: teamKey + "x") == nil)
        #expect(ring.principal(for: "") == nil)
        #expect(throws: APIKeyFileError.self) { try APIKeyFile.append(key: APIKeyFile.generateKey(), name: "ci", team: "x", to: path) }
    }

    @Test(
        "key files with mistakes are refused with the entry named",
        arguments: [
            "keys:\n  - {name: a, sha256: abc, team: t}\n",
            "keys:\n  - {name: a, sha256: \(String(repeating: "a", count: 64)), team: t, admin: true}\n",
            "keys:\n  - {name: a, sha256: \(String(repeating: "a", count: 64))}\n",
            "keys:\n  - {name: a, sha256: \(String(repeating: "A", count: 64)), team: t}\n",
            "keys:\n  - {name: a, sha256: \(String(repeating: "a", count: 64)), team: t}\n  - {name: b, sha256: \(String(repeating: "a", count: 64)), team: u}\n",
            "just text",
        ])
    func invalidFiles(text: String) {
        #expect(throws: APIKeyFileError.self) { try APIKeyFile(yaml: text) }
    }

    @Test("constant-time comparison compares whole arrays")
    func constantTime() {
        #expect(APIKeyRing.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!APIKeyRing.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!APIKeyRing.constantTimeEqual([1, 2], [1, 2, 3]))
    }
}

@Suite("API input checks")
struct APIInputTests {
    @Test("cursors round-trip; anything else is refused")
    func cursors() {
        let id = JobID.generate()
        #expect(PageCursor.decode(PageCursor.encode(after: id)) == id)
        for garbage in ["", "zzz", "djE6bm90LWFuLWlk", String(repeating: "a", count: 100), "v1:\(id)"] {
            #expect(PageCursor.decode(garbage) == nil, "\(garbage)")
        }
    }

    @Test("list parameters: each bad one is named; unknown ones are ignored")
    func listParameters() throws {
        let good = try ListParameters([
            ("team", "vision"), ("state", "running"), ("kind", "training"), ("label", "env=prod=1"), ("createdSince", "2026-11-29T00:00:00Z"),
            ("limit", "7"), ("whatever", "x"),
        ])
        #expect(good.query.team == "vision" && good.query.state == .running && good.query.kind == "training")
        #expect(good.query.label?.key == "env" && good.query.label?.value == "prod=1" && good.query.limit == 7)
        do {
            _ = try ListParameters([
                ("state", "DONE"), ("kind", "x"), ("label", "=v"), ("createdSince", "yesterday"), ("limit", "0"), ("cursor", "@@"),
                ("team", ""), ("backend", "a"), ("backend", "b"),
            ])
            Issue.record("accepted bad parameters")
        } catch {
            #expect(error.status == .badRequest)
            #expect(Set(error.fields.map(\.field)) == ["state", "kind", "label", "createdSince", "limit", "cursor", "team", "backend"])
        }
    }

    @Test("spec bodies: unknown fields, wrong types and media types are 4xx with the field named")
    func specBodies() throws {
        let base = #"{"apiVersion":"trainyard/v1","name":"n","team":"t","command":["true"]"#
        #expect(try SpecDocument.parse(Data((base + "}").utf8), contentType: "application/json").name == "n")
        #expect(
            try SpecDocument.parse(Data("apiVersion: trainyard/v1\nname: n\nteam: t\ncommand: [\"true\"]\n".utf8), contentType: "text/yaml").team
                == "t")
        func failure(_ body: String, _ type: String?) -> APIError? {
            do {
                _ = try SpecDocument.parse(Data(body.utf8), contentType: type)
                return nil
            } catch { return error }
        }
        #expect(
            failure(base + #","maxRuntime":5,"resources":{"cpus":2}}"#, "application/json")?.fields.map(\.field) == ["maxRuntime", "resources.cpus"])
        #expect(
            failure("apiVersion: trainyard/v1\nname: n\nteam: t\ncommand: [x]\ninputs: [{name: a, uri: s3://b, extra: 1}]\n", "application/yaml")?
                .fields.map(\.field) == ["inputs[0].extra"])
        #expect(failure(base + #","resources":{"cpu":"lots"}}"#, "application/json")?.fields.map(\.field) == ["resources.cpu"])
        #expect(failure("[1,2]", "application/json")?.status == .badRequest)
        #expect(failure("", "application/json")?.status == .badRequest)
        #expect(failure(base + "}", "text/plain")?.status == .unsupportedMediaType)
        #expect(failure("{", "application/json")?.status == .badRequest)
    }

    @Test("cancel bodies: optional reason only")
    func cancelBodies() throws {
        #expect(try CancelBody.reason(from: Data()) == nil)
        #expect(try CancelBody.reason(from: Data(#"{"reason":"stop"}"#.utf8)) == "stop")
        #expect(throws: APIError.self) { try CancelBody.reason(from: Data(#"{"reason":5}"#.utf8)) }
        #expect(throws: APIError.self) { try CancelBody.reason(from: Data(#"{"why":"x"}"#.utf8)) }
        #expect(throws: APIError.self) { try CancelBody.reason(from: Data("nope".utf8)) }
    }

    @Test("paths answer their methods; others are unknown")
    func routeTable() {
        #expect(APIServer.allowedMethods(for: "/v1/jobs") == ["GET", "POST"])
        #expect(APIServer.allowedMethods(for: "/v1/jobs/abc/cancel") == ["POST"])
        #expect(APIServer.allowedMethods(for: "/") == ["GET"])
        #expect(APIServer.allowedMethods(for: "/v1/jobs/a/b") == nil)
    }

    @Test("redirects after login stay on this server")
    func safeNext() {
        #expect(DashboardRoutes.safeNext("/jobs/x?y=1") == "/jobs/x?y=1")
        for hostile in ["//evil.example", "https://evil.example", "/\\evil", nil, "jobs"] { #expect(DashboardRoutes.safeNext(hostile) == "/") }
    }
}

@Suite("Dashboard rendering")
struct DashboardRenderingTests {
    let hostile = "<script>alert('x')</script>\"&"

    func record(_ state: JobState = .failed) -> JobRecord {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        return JobRecord(
            jobID: JobID.generate(), team: hostile, name: hostile, kind: "batch", requestedBackend: "auto", submittedAt: start,
            cancelRequestedAt: nil,
            attempt: 1, state: state, stateSource: .backend, backend: hostile, resourceName: hostile, exitCode: 3, failureClass: .userError,
            reason: hostile, claimedAt: start.addingTimeInterval(2), startedAt: start.addingTimeInterval(3), finishedAt: start.addingTimeInterval(65),
            updatedAt: start.addingTimeInterval(65))
    }

    @Test("every job-provided string is escaped on the jobs page and the job page")
    func escaping() {
        let job = record()
        let list = JobsPage(
            principal: Principal(name: hostile, team: nil), filters: JobQuery(team: hostile, backend: hostile), jobs: [job], nextCursor: "c",
            stateCounts: [.failed: 1], finishedLastHour: [.failed: 1, .succeeded: 3], error: hostile, now: Date()
        ).render()
        let event = LifecycleEvent(jobID: job.jobID, attempt: 1, state: .failed, source: .backend, occurredAt: job.finishedAt!, reason: hostile)
        let attempt = AttemptStatus(event)
        let detail = JobPage(
            principal: Principal(name: "k", team: nil), job: job, spec: nil, attempts: [attempt],
            events: [StoredEvent(position: MessagePosition(topic: "t", partition: 0, offset: 0), event: event)],
            logTail: JobLogTail(text: hostile), now: Date()
        ).render()
        for page in [list, detail] {
            #expect(!page.contains("<script"))
            #expect(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"))
        }
        #expect(list.contains("25%"), "1 failed of 4 finished")
        #expect(list.contains("1m 02s"), "run time of the job")
        #expect(detail.contains("<svg"))
        #expect(detail.contains("<pre id=\"log\">&lt;script&gt;"), "the log's last lines are text, never markup")
    }

    @Test("the timeline splits an attempt into its states in time order")
    func timeline() {
        let t0 = Date(timeIntervalSince1970: 1000)
        let segments = TimelineChart.segments(
            stateTimes: [.running: t0.addingTimeInterval(5), .claimed: t0, .succeeded: t0.addingTimeInterval(9)], end: t0.addingTimeInterval(9))
        #expect(segments.map(\.state) == [.claimed, .running, .succeeded])
        #expect(segments[0].end == t0.addingTimeInterval(5) && segments[1].end == t0.addingTimeInterval(9))
    }
}
