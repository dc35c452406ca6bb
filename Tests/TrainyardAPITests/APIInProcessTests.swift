import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing
import TrainyardAPI
import TrainyardCore
import TrainyardQuota
import TrainyardStore
import TrainyardTesting

/// The API's router in-process (HummingbirdTesting, no socket, no broker): a store in a temporary
/// file, and a request sender that applies each request to the store as the aggregator would.
/// The end-to-end `APITests` run the same contract against a real aggregator process.
struct InProcessAPI {
    let application: Application<RouterResponder<BasicRequestContext>>
    let directory: URL
    let admin = APIKeyFile.generateKey()
    let alpha = APIKeyFile.generateKey()
    let beta = APIKeyFile.generateKey()
    /// Applies a message to the store as the aggregator would (e.g. a worker's event).
    let apply: @Sendable (IngestRecord) throws -> Void

    /// - Parameter storesRequests: false for an aggregator that never catches up: requests are
    ///   taken and the store never shows them.
    init(configuration: APIConfiguration = APIConfiguration(), storesRequests: Bool = true) throws {
        directory = try TestEnvironment.temporaryDirectory("api-in-process")
        let path = directory.appendingPathComponent("trainyard.db").path
        let store = try JobStore(path: path)
        let offsets = Mutex<Int64>(0)
        let apply: @Sendable (IngestRecord) throws -> Void = { record in
            let offset = offsets.withLock { offset -> Int64 in
                offset += 1
                return offset
            }
            _ = try store.apply([IngestMessage(position: MessagePosition(topic: "requests", partition: 0, offset: offset), record: record)])
        }
        self.apply = apply
        let send: JobRequestSender = { request in
            guard storesRequests else { return }
            switch request {
            case .submit(let command): try apply(.submitted(command))
            case .cancel(let command): try apply(.cancelRequested(command))
            }
        }
        let keys = APIKeyFile(entries: [
            APIKeyEntry(name: "admin", sha256: APIKeyFile.hash(admin)),
            APIKeyEntry(name: "alpha-ci", sha256: APIKeyFile.hash(alpha), team: "alpha"),
            APIKeyEntry(name: "beta-ci", sha256: APIKeyFile.hash(beta), team: "beta"),
        ])
        let api = APIServer(
            store: try JobStore(readingAt: path), authenticator: Authenticator(keys: APIKeyRing(keys)), send: send,
            configuration: configuration, logger: TestEnvironment.logger("api-in-process"))
        let router = Router()
        api.install(on: router)
        application = Application(router: router)
    }

    /// Runs `body` against the router, then removes the store.
    func test(_ body: @Sendable (Client) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await application.test(.router) { client in try await body(Client(client: client)) }
    }

    /// Sends requests with an optional bearer key.
    struct Client: Sendable {
        let client: any TestClientProtocol

        func call(
            _ method: HTTPRequest.Method, _ path: String, key: String?, body: String? = nil, contentType: String? = "application/json"
        ) async throws -> Reply {
            var headers = HTTPFields()
            if let key { headers[.authorization] = "Bearer \(key)" }
            if body != nil, let contentType { headers[.contentType] = contentType }
            return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
                Reply(status: $0.status.code, headers: $0.headers, text: String(buffer: $0.body))
            }
        }

        /// Submits a spec and returns its job id.
        func submit(_ name: String, team: String, key: String) async throws -> String {
            let reply = try await call(.post, "/v1/jobs", key: key, body: InProcessAPI.spec(name, team: team))
            try #require(reply.status == 202, "\(reply.text)")
            return try #require(try reply.json()["jobId"] as? String)
        }
    }

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPFields
        var text: String

        func json() throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) }

        /// `error.code` of the JSON error body.
        func errorCode() throws -> String? { (try json()["error"] as? [String: Any])?["code"] as? String }

        /// The ids of a job list.
        func jobIDs() throws -> [String] { (try json()["jobs"] as? [[String: Any]] ?? []).compactMap { $0["jobId"] as? String } }
    }

    static func spec(_ name: String, team: String, extra: String = "") -> String {
        #"{"apiVersion":"trainyard/v1","name":"\#(name)","team":"\#(team)","command":["true"]\#(extra)}"#
    }
}

@Suite("HTTP API in-process (HummingbirdTesting)")
struct APIInProcessTests {
    @Test("a submit the store does not show yet is answered SUBMITTED when the visibility wait has passed on the API's clock, not before")
    func submitVisibilityWait() async throws {
        let clock = ManualClock()
        let api = try InProcessAPI(configuration: APIConfiguration(submitVisibilityWait: .seconds(2), clock: clock), storesRequests: false)
        try await api.test { client in
            async let reply = client.call(.post, "/v1/jobs", key: api.alpha, body: InProcessAPI.spec("late", team: "alpha"))
            try #require(try await eventually(timeout: .seconds(120)) { clock.sleeperCount == 1 })
            clock.advance(by: .milliseconds(1_980))
            try #require(try await eventually(timeout: .seconds(120)) { clock.sleeperCount == 1 })  // 20 ms of the wait are left: it polls the store again
            clock.advance(by: .milliseconds(20))
            let answer = try await reply
            #expect(answer.status == 202, "\(answer.text)")
            #expect(try answer.json()["state"] as? String == "SUBMITTED")
        }
    }

    @Test("every authenticated endpoint answers 401 with the JSON error body to no key, an unknown key and a near miss")
    func authentication() async throws {
        let api = try InProcessAPI()
        try await api.test { client in
            let job = try await client.submit("a-job", team: "alpha", key: api.alpha)
            for (method, path) in [
                (HTTPRequest.Method.get, "/v1/jobs"), (.post, "/v1/jobs"), (.get, "/v1/jobs/\(job)"), (.get, "/v1/jobs/\(job)/events"),
                (.post, "/v1/jobs/\(job)/cancel"), (.post, "/v1/login-links"),
            ] {
                for key in [nil, "ty_not-a-key", api.alpha + "0"] {
                    let reply = try await client.call(method, path, key: key, body: method == .post ? InProcessAPI.spec("x", team: "alpha") : nil)
                    #expect(reply.status == 401, "\(method) \(path) with \(key ?? "no key")")
                    #expect(try reply.errorCode() == "unauthenticated")
                    #expect(reply.headers[.wwwAuthenticate] == #"Bearer realm="trainyard""#)
                    #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
                }
            }
            for path in ["/healthz", "/readyz", "/openapi.yaml"] {
                #expect(try await client.call(.get, path, key: nil).status != 401, "\(path) needs no key")
            }
        }
    }

    @Test("a team key sees and acts on its own team's jobs only; another team's job answers exactly like an unknown one")
    func teamScoping() async throws {
        let api = try InProcessAPI()
        try await api.test { client in
            let alphaJob = try await client.submit("a-job", team: "alpha", key: api.alpha)
            let betaJob = try await client.submit("b-job", team: "beta", key: api.admin)
            let unknown = JobID.generate().rawValue
            for path in ["/v1/jobs/\(betaJob)", "/v1/jobs/\(betaJob)/events"] {
                let theirs = try await client.call(.get, path, key: api.alpha)
                let missing = try await client.call(.get, path.replacingOccurrences(of: betaJob, with: unknown), key: api.alpha)
                #expect(theirs.status == 404 && missing.status == 404)
                #expect(try theirs.errorCode() == "not_found")
                #expect(theirs.text.replacingOccurrences(of: betaJob, with: unknown) == missing.text)
            }
            let cancelTheirs = try await client.call(.post, "/v1/jobs/\(betaJob)/cancel", key: api.alpha, body: "{}")
            let cancelMissing = try await client.call(.post, "/v1/jobs/\(unknown)/cancel", key: api.alpha, body: "{}")
            #expect(cancelTheirs.status == 404 && cancelTheirs.text.replacingOccurrences(of: betaJob, with: unknown) == cancelMissing.text)
            #expect(try await client.call(.get, "/v1/jobs/\(betaJob)", key: api.beta).status == 200)
            #expect(try await client.call(.get, "/v1/jobs/\(betaJob)", key: api.admin).status == 200)

            let sneaky = try await client.call(.post, "/v1/jobs", key: api.alpha, body: InProcessAPI.spec("sneaky", team: "beta"))
            #expect(sneaky.status == 403, "\(sneaky.text)")
            #expect(try sneaky.errorCode() == "forbidden")
            let otherTeam = try await client.call(.get, "/v1/jobs?team=beta", key: api.alpha)
            #expect(otherTeam.status == 403)
            #expect(try otherTeam.errorCode() == "forbidden")
            #expect(try await client.call(.get, "/v1/jobs", key: api.alpha).jobIDs() == [alphaJob])
            #expect(try await Set(client.call(.get, "/v1/jobs", key: api.admin).jobIDs()) == [alphaJob, betaJob])
            #expect(try await client.call(.get, "/v1/jobs?team=beta", key: api.admin).jobIDs() == [betaJob])
        }
    }

    @Test("refused requests are 4xx with the JSON error body: unknown path, wrong method, media type, size, bad spec, bad query")
    func errorShapes() async throws {
        let api = try InProcessAPI(configuration: APIConfiguration(maxSpecBytes: 2048))
        try await api.test { client in
            let unknownPath = try await client.call(.get, "/v2/nothing", key: api.alpha)
            #expect(unknownPath.status == 404)
            #expect(try unknownPath.errorCode() == "not_found")

            let wrongMethod = try await client.call(.delete, "/v1/jobs", key: api.alpha)
            #expect(wrongMethod.status == 405)
            #expect(try wrongMethod.errorCode() == "method_not_allowed")
            #expect(wrongMethod.headers[.allow] == "GET, POST")

            let mediaType = try await client.call(.post, "/v1/jobs", key: api.alpha, body: "name: x", contentType: "text/plain")
            #expect(mediaType.status == 415, "\(mediaType.text)")

            let huge = InProcessAPI.spec("big", team: "alpha", extra: #","env":{"A":""# + String(repeating: "x", count: 4096) + #""}"#)
            #expect(try await client.call(.post, "/v1/jobs", key: api.alpha, body: huge).status == 413)

            let typo = try await client.call(
                .post, "/v1/jobs", key: api.alpha, body: InProcessAPI.spec("typo", team: "alpha", extra: #","maxRuntime":5"#))
            #expect(typo.status == 400)
            #expect(try typo.errorCode() == "invalid_request")
            let fields = (try typo.json()["error"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []
            #expect(fields.contains { $0["field"] as? String == "maxRuntime" }, "\(typo.text)")

            let badLimit = try await client.call(.get, "/v1/jobs?limit=0", key: api.alpha)
            #expect(badLimit.status == 400 && badLimit.text.contains("limit"), "\(badLimit.text)")

            for reply in [unknownPath, wrongMethod, mediaType, typo, badLimit] {
                #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
                #expect(try reply.json().keys.sorted() == ["error"])
            }
        }
    }

    @Test(
        "the dashboard's quota panel: each team's running jobs against the quotas file given to the aggregator, its held jobs; a team sees its own row only"
    )
    func quotaPanel() async throws {
        let quotas = QuotaPolicy(teams: ["alpha": TeamQuota(limit: QuotaLimit(maxAttempts: 1)), "beta": TeamQuota(limit: QuotaLimit(maxAttempts: 3))])
        let api = try InProcessAPI(configuration: APIConfiguration(quotas: quotas))
        try await api.test { client in
            let running = try #require(JobID(try await client.submit("first", team: "alpha", key: api.alpha)))
            let held = try #require(JobID(try await client.submit("second", team: "alpha", key: api.alpha)))
            try api.apply(.event(LifecycleEvent(jobID: running, attempt: 1, state: .running, source: .worker, team: "alpha", backend: "local")))
            try api.apply(
                .event(
                    LifecycleEvent(
                        jobID: held, attempt: 1, state: .queued, source: .worker, team: "alpha", backend: "local",
                        reason: "team quota: 1 of 1 running")))

            let admin = try await client.call(.get, "/", key: api.admin)
            #expect(admin.status == 200)
            #expect(
                admin.text.contains(#"<tr data-team="alpha"><td>alpha</td><td class="num reason" data-resource="attempts">1 / 1</td>"#),
                "\(admin.text)")
            #expect(admin.text.contains(#"<td class="num" data-resource="held">1</td>"#))
            #expect(admin.text.contains(#"<tr data-team="beta"><td>beta</td><td class="num" data-resource="attempts">0 / 3</td>"#))

            let beta = try await client.call(.get, "/", key: api.beta)
            #expect(beta.text.contains(#"<tr data-team="beta">"#) && !beta.text.contains(#"data-team="alpha""#))
        }
    }
}
