import Foundation
import Testing
import TrainyardAPI
import TrainyardCore
import TrainyardTesting

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The HTTP API and dashboard of a real aggregator process, with a worker and the local broker.
@Suite("HTTP API and dashboard", .serialized)
struct APITests {
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any]) }
    }

    /// A fleet whose aggregator serves the API with three keys: admin, team "alpha", team "beta".
    struct Deployment {
        var fleet: Fleet
        var port: Int
        var admin: String
        var alpha: String
        var beta: String

        /// No cookie jar: each call is authenticated by its own key or not at all.
        static let session: URLSession = {
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpCookieStorage = nil
            configuration.httpShouldSetCookies = false
            return URLSession(configuration: configuration)
        }()

        func call(_ method: String, _ path: String, key: String?, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            request.httpBody = body
            if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (data, response) = try await Self.session.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            var fields: [String: String] = [:]
            for (name, value) in http.allHeaderFields { fields["\(name)".lowercased()] = "\(value)" }
            return Reply(status: http.statusCode, headers: fields, body: data)
        }

        func submit(_ spec: String, key: String, type: String = "application/json", headers: [String: String] = [:]) async throws -> Reply {
            try await call("POST", "/v1/jobs", key: key, body: Data(spec.utf8), headers: headers.merging(["Content-Type": type]) { a, _ in a })
        }
    }

    static func spec(_ name: String, team: String, command: String = #"["true"]"#, extra: String = "") -> String {
        #"{"apiVersion":"trainyard/v1","name":"\#(name)","team":"\#(team)","command":\#(command),"retry":{"maxAttempts":1}\#(extra)}"#
    }

    static func withDeployment(_ name: String, worker: Bool = true, _ body: (Deployment) async throws -> Void) async throws {
        try await Fleet.with(name: name) { fleet in
            let keyFile = fleet.home.appendingPathComponent("api-keys.yaml").path
            let keys = (APIKeyFile.generateKey(), APIKeyFile.generateKey(), APIKeyFile.generateKey())
            try APIKeyFile.append(key: keys.0, name: "admin", team: nil, to: keyFile)
            try APIKeyFile.append(key: keys.1, name: "alpha-ci", team: "alpha", to: keyFile)
            try APIKeyFile.append(key: keys.2, name: "beta-ci", team: "beta", to: keyFile)
            let port = try Fleet.freePort()
            try fleet.start(
                "aggregator", ["aggregator", "--group", fleet.aggregatorGroup, "--http-address", "127.0.0.1:\(port)", "--api-keys", keyFile])
            let ready = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: port, path: "/readyz"))?.0 == 200 }
            try #require(ready, "the aggregator never became ready:\n\(fleet.logTail("aggregator"))")
            if worker { try fleet.startWorker("worker-1") }
            try await body(Deployment(fleet: fleet, port: port, admin: keys.0, alpha: keys.1, beta: keys.2))
        }
    }

    @Test("submit (JSON, YAML, idempotent), get, list with filters and cursors, events, cancel")
    func lifecycle() async throws {
        try await Self.withDeployment("api-lifecycle") { api in
            let first = try await api.submit(Self.spec("first", team: "alpha", extra: #","labels":{"stage":"one"}"#), key: api.alpha)
            #expect(first.status == 202)
            let id = try #require(try first.json()["jobId"] as? String)
            #expect(first.headers["location"] == "/v1/jobs/\(id)")
            // The POST waited for the store: a GET right after finds the job.
            #expect(try await api.call("GET", "/v1/jobs/\(id)", key: api.alpha).status == 200)

            let yaml = "apiVersion: trainyard/v1\nname: from-yaml\nteam: alpha\ncommand: [\"true\"]\n"
            let keyed = try await api.submit(yaml, key: api.alpha, type: "application/yaml", headers: ["Idempotency-Key": "nightly-2026-11-29"])
            let again = try await api.submit(yaml, key: api.alpha, type: "application/yaml", headers: ["Idempotency-Key": "nightly-2026-11-29"])
            #expect(keyed.status == 202 && again.status == 202)
            let keyedID = try #require(try keyed.json()["jobId"] as? String)
            #expect(try again.json()["jobId"] as? String == keyedID)
            #expect(keyedID == JobID.derived(team: "alpha", idempotencyKey: "nightly-2026-11-29").rawValue)

            var ids = [id, keyedID]
            for index in 0..<5 {
                ids.append(try #require(try await api.submit(Self.spec("batch-\(index)", team: "alpha"), key: api.alpha).json()["jobId"] as? String))
            }
            let other = try #require(try await api.submit(Self.spec("theirs", team: "beta"), key: api.beta).json()["jobId"] as? String)
            let records = try await api.fleet.waitForTerminal(ids.compactMap(JobID.init) + [JobID(other)!], timeout: .seconds(240))
            #expect(records.values.allSatisfy { $0.state == .succeeded })

            // Cursor pagination: pages of 2 cover alpha's 7 jobs once each, newest id first.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await api.call("GET", "/v1/jobs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), key: api.alpha).json()
                let jobs = try #require(page["jobs"] as? [[String: Any]])
                #expect(jobs.count <= 2)
                seen += jobs.compactMap { $0["jobId"] as? String }
                cursor = page["nextCursor"] as? String
            } while cursor != nil
            #expect(seen.count == 7 && Set(seen) == Set(ids))
            #expect(seen == seen.sorted(by: >))

            let labelled = try await api.call("GET", "/v1/jobs?label=stage=one", key: api.alpha).json()["jobs"] as? [[String: Any]]
            #expect(labelled?.compactMap { $0["jobId"] as? String } == [id])
            let future = try await api.call("GET", "/v1/jobs?createdSince=2099-01-01T00:00:00Z", key: api.admin).json()["jobs"] as? [Any]
            #expect(future?.isEmpty == true)
            let succeeded = try await api.call("GET", "/v1/jobs?state=SUCCEEDED&backend=local&kind=batch&limit=500", key: api.admin).json()
            #expect((succeeded["jobs"] as? [[String: Any]])?.count == 8)

            let detail = try await api.call("GET", "/v1/jobs/\(id)", key: api.alpha).json()
            for field in [
                "jobId", "team", "name", "kind", "state", "attempt", "backend", "resourceName", "exitCode", "submittedAt", "claimedAt",
                "startedAt", "finishedAt", "queueWaitSeconds", "runSeconds", "updatedAt", "spec", "attempts",
            ] {
                #expect(detail[field] != nil, "GET /v1/jobs/{id} lacks \(field)")
            }
            #expect(detail["state"] as? String == "SUCCEEDED")
            #expect((detail["attempts"] as? [[String: Any]])?.last?["stateTimes"] as? [String: String] != nil)
            let events = try await api.call("GET", "/v1/jobs/\(id)/events", key: api.alpha).json()["events"] as? [[String: Any]] ?? []
            let states = Set(events.compactMap { $0["state"] as? String })
            #expect(states.isSuperset(of: ["QUEUED", "CLAIMED", "RUNNING", "SUCCEEDED"]))

            // Cancel a running job; the worker stops it.
            let long = try #require(
                try await api.submit(Self.spec("long", team: "alpha", command: #"["sleep","300"]"#), key: api.alpha).json()["jobId"] as? String)
            let running = try await eventually(timeout: .seconds(120)) {
                try await api.call("GET", "/v1/jobs/\(long)", key: api.alpha).json()["state"] as? String == "RUNNING"
            }
            try #require(running)
            let cancel = try await api.call("POST", "/v1/jobs/\(long)/cancel", key: api.alpha, body: Data(#"{"reason":"not needed"}"#.utf8))
            #expect(cancel.status == 202)
            #expect(try cancel.json()["cancelRequested"] as? Bool == true)
            let cancelled = try await api.fleet.waitForTerminal([JobID(long)!], timeout: .seconds(240))
            #expect(cancelled[JobID(long)!]?.state == .cancelled)
        }
    }

    @Test("auth matrix: 401 without a valid key, a team sees only its jobs, 404 for others' jobs is the same as for unknown ones")
    func authMatrix() async throws {
        try await Self.withDeployment("api-auth", worker: false) { api in
            let alphaJob = try #require(try await api.submit(Self.spec("a-job", team: "alpha"), key: api.alpha).json()["jobId"] as? String)
            let betaJob = try #require(try await api.submit(Self.spec("b-job", team: "beta"), key: api.admin).json()["jobId"] as? String)
            let unknown = JobID.generate().rawValue

            for (method, path) in [
                ("GET", "/v1/jobs"), ("POST", "/v1/jobs"), ("GET", "/v1/jobs/\(alphaJob)"), ("GET", "/v1/jobs/\(alphaJob)/events"),
                ("POST", "/v1/jobs/\(alphaJob)/cancel"), ("POST", "/v1/login-links"),
            ] {
                for key in [nil, "ty_not-a-key", api.alpha + "0"] {
                    let reply = try await api.call(method, path, key: key, body: method == "POST" ? Data(Self.spec("x", team: "alpha").utf8) : nil)
                    #expect(reply.status == 401, "\(method) \(path) with \(key ?? "no key")")
                    #expect(try reply.json()["error"].flatMap { $0 as? [String: Any] }?["code"] as? String == "unauthenticated")
                }
            }
            for path in ["/healthz", "/readyz", "/openapi.yaml"] { #expect(try await api.call("GET", path, key: nil).status == 200, "\(path)") }

            // A team key: another team's job looks exactly like a job that does not exist.
            for path in ["/v1/jobs/\(betaJob)", "/v1/jobs/\(betaJob)/events"] {
                let theirs = try await api.call("GET", path, key: api.alpha)
                let missing = try await api.call("GET", path.replacingOccurrences(of: betaJob, with: unknown), key: api.alpha)
                #expect(theirs.status == 404 && missing.status == 404)
                #expect(theirs.text.replacingOccurrences(of: betaJob, with: unknown) == missing.text)
            }
            let cancelTheirs = try await api.call("POST", "/v1/jobs/\(betaJob)/cancel", key: api.alpha)
            let cancelMissing = try await api.call("POST", "/v1/jobs/\(unknown)/cancel", key: api.alpha)
            #expect(cancelTheirs.status == 404 && cancelTheirs.text.replacingOccurrences(of: betaJob, with: unknown) == cancelMissing.text)
            #expect(try await api.call("GET", "/v1/jobs/\(betaJob)", key: api.beta).status == 200)
            #expect(try await api.call("GET", "/v1/jobs/\(betaJob)", key: api.admin).status == 200)
            #expect(try await api.submit(Self.spec("sneaky", team: "beta"), key: api.alpha).status == 403)
            #expect(try await api.call("GET", "/v1/jobs?team=beta", key: api.alpha).status == 403)
            let alphaList = try await api.call("GET", "/v1/jobs", key: api.alpha).json()["jobs"] as? [[String: Any]]
            #expect(alphaList?.compactMap { $0["jobId"] as? String } == [alphaJob])
            let all = try await api.call("GET", "/v1/jobs", key: api.admin).json()["jobs"] as? [[String: Any]]
            #expect(Set(all?.compactMap { $0["jobId"] as? String } ?? []) == [alphaJob, betaJob])
            // The dashboard: a team key's page lists only its own jobs.
            let page = try await api.call("GET", "/", key: api.alpha)
            #expect(page.status == 200 && page.text.contains(alphaJob) && !page.text.contains(betaJob))
            #expect(try await api.call("GET", "/jobs/\(betaJob)", key: api.alpha).status == 404)
        }
    }

    @Test("hostile input: 4xx with the field named, never a 5xx; the document is served byte for byte")
    func hostileInput() async throws {
        try await Self.withDeployment("api-hostile", worker: false) { api in
            let huge = Self.spec("big", team: "alpha", extra: #","env":{"A":""# + String(repeating: "x", count: 300 * 1024) + #""}"#)
            #expect(try await api.submit(huge, key: api.alpha).status == 413)
            let typo = try await api.submit(Self.spec("typo", team: "alpha", extra: #","maxRuntime":5"#), key: api.alpha)
            #expect(typo.status == 400)
            let fields = try typo.json()["error"].flatMap { $0 as? [String: Any] }?["fields"] as? [[String: String]]
            #expect(fields?.first?["field"] == "maxRuntime")
            let wrongType = try await api.submit(Self.spec("typed", team: "alpha", extra: #","resources":{"cpu":"many"}"#), key: api.alpha)
            #expect(wrongType.status == 400 && wrongType.text.contains("resources.cpu"))
            #expect(try await api.submit(Self.spec("x", team: "alpha"), key: api.alpha, type: "text/plain").status == 415)
            #expect(try await api.submit("{not json", key: api.alpha).status == 400)
            #expect(
                try await api.submit(Self.spec("x", team: "alpha"), key: api.alpha, headers: ["Idempotency-Key": String(repeating: "k", count: 300)])
                    .status == 400)
            for query in ["cursor=nonsense", "createdSince=yesterday", "limit=0", "limit=100000", "state=DONE", "label=novalue", "team="] {
                let reply = try await api.call("GET", "/v1/jobs?\(query)", key: api.admin)
                #expect(reply.status == 400, "\(query)")
            }
            #expect(try await api.call("GET", "/v1/jobs?unknown=1", key: api.admin).status == 200)
            let wrongMethod = try await api.call("DELETE", "/v1/jobs", key: api.admin)
            #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "GET, POST")
            #expect(try await api.call("GET", "/v1/nothing", key: api.admin).status == 404)
            #expect(try await api.call("GET", "/v1/jobs/not-an-id", key: api.admin).status == 404)
            #expect(try await api.call("POST", "/v1/jobs/\(JobID.generate())/cancel", key: api.admin, body: Data("[]".utf8)).status == 404)

            let served = try await api.call("GET", "/openapi.yaml", key: nil)
            let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/TrainyardAPI/openapi.yaml")
            #expect(served.body == (try Data(contentsOf: file)))
        }
    }

    @Test("headless Chromium renders the dashboard: the jobs it submitted, escaped text, the job page's timeline")
    func browser() async throws {
        let chromium = try #require(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "chromium is not installed: run ops/install-deps")
        try await Self.withDeployment("api-browser") { api in
            var ids: [String] = []
            for name in ["browser-ok", "browser-fails"] {
                let command = name == "browser-ok" ? #"["true"]"# : #"["/bin/sh","-c","exit 3"]"#
                ids.append(
                    try #require(try await api.submit(Self.spec(name, team: "alpha", command: command), key: api.alpha).json()["jobId"] as? String))
            }
            let hostile = try #require(
                try await api.submit(Self.spec("browser-hostile", team: "alpha", command: #"["sleep","300"]"#), key: api.alpha).json()["jobId"]
                    as? String)
            _ = try await api.fleet.waitForTerminal(ids.compactMap(JobID.init), timeout: .seconds(240))
            _ = try await api.call(
                "POST", "/v1/jobs/\(hostile)/cancel", key: api.alpha, body: Data(#"{"reason":"<script>document.title='pwned'</script>"}"#.utf8))
            _ = try await api.fleet.waitForTerminal([JobID(hostile)!], timeout: .seconds(240))

            func render(_ next: String) async throws -> String {
                let link = try await api.call("POST", "/v1/login-links", key: api.alpha, body: Data(#"{"next":"\#(next)"}"#.utf8))
                #expect(link.status == 201)
                let url = try #require(try link.json()["url"] as? String)
                let profile = try TestEnvironment.temporaryDirectory("chromium-profile")
                defer { try? FileManager.default.removeItem(at: profile) }
                let rendered = try await TestEnvironment.run(
                    URL(fileURLWithPath: chromium),
                    [
                        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)", "--dump-dom",
                        "http://127.0.0.1:\(api.port)\(url)",
                    ])
                return rendered.output
            }
            let list = try await render("/")
            for id in ids + [hostile] {
                #expect(list.contains("data-job-id=\"\(id)\""), "\(id) is not in the rendered jobs table:\n\(list.prefix(2000))")
            }
            #expect(list.contains("SUCCEEDED") && list.contains("FAILED") && list.contains("failure rate"))
            #expect(!list.contains("<script>document.title"))
            #expect(list.contains("&lt;script&gt;document.title"))
            #expect(!list.contains("pwned</title>"))

            let job = try await render("/jobs/\(ids[1])")
            #expect(job.contains("browser-fails") && job.contains("<svg") && job.contains("exited with status 3"))
            // A used link does not log in again (opened as a browser opens a URL it was given).
            let link = try await api.call("POST", "/v1/login-links", key: api.alpha).json()["url"] as? String ?? ""
            #expect(try await api.call("GET", link, key: nil, headers: ["Sec-Fetch-Site": "none"]).status != 401)
            #expect(try await api.call("GET", link, key: nil, headers: ["Sec-Fetch-Site": "none"]).status == 401)
        }
    }

    @Test("trainyard submit --api --wait: exit 0 for a success, 1 for a failure, 2 for a refused spec, 4 for a bad key")
    func cliThroughTheAPI() async throws {
        try await Self.withDeployment("api-cli") { api in
            let directory = api.fleet.home
            func write(_ name: String, _ text: String) throws -> String {
                let path = directory.appendingPathComponent(name).path
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }
            let succeeds = try write("ok.yaml", "apiVersion: trainyard/v1\nname: cli-ok\nteam: alpha\ncommand: [\"true\"]\n")
            let fails = try write(
                "fails.yaml",
                "apiVersion: trainyard/v1\nname: cli-fails\nteam: alpha\ncommand: [/bin/sh, -c, \"exit 3\"]\nretry: {maxAttempts: 1}\n")
            let invalid = try write("invalid.json", Self.spec("cli-invalid", team: "alpha", extra: #","resources":{"cpu":-1}"#))
            func submit(_ file: String, key: String) async throws -> TestEnvironment.Completed {
                try await api.fleet.run(
                    ["submit", "--api", "http://127.0.0.1:\(api.port)", "--wait", "--timeout", "120", file],
                    environment: ["TRAINYARD_API_KEY": key])
            }

            let ok = try await submit(succeeds, key: api.alpha)
            #expect(ok.status == 0, "\(ok)")
            let id = try #require(JobID(String(ok.output.split(separator: "\n").first ?? "")), "\(ok)")
            #expect(ok.output.contains("\(id)  cli-ok  SUCCEEDED"), "not a terminal: one plain line per state change")
            let failed = try await submit(fails, key: api.alpha)
            #expect(failed.status == 1 && failed.output.contains("FAILED") && failed.output.contains("exit 3"), "\(failed)")
            let refused = try await submit(invalid, key: api.alpha)
            #expect(refused.status == 2 && refused.errors.contains("resources.cpu"), "\(refused)")
            let unauthenticated = try await submit(succeeds, key: "ty_not-a-key")
            #expect(unauthenticated.status == 4 && !unauthenticated.errors.contains("ty_not-a-key"), "\(unauthenticated)")
        }
    }

    @Test("the Airflow operator example (ops/airflow, pytest) against the real API")
    func airflowOperator() async throws {
        try await Self.withDeployment("api-airflow") { api in
            var environment = ProcessInfo.processInfo.environment
            environment["TRAINYARD_API_URL"] = "http://127.0.0.1:\(api.port)"
            environment["TRAINYARD_API_KEY"] = api.alpha
            let pytest = try await TestEnvironment.run(
                try TestEnvironment.python(), ["-m", "pytest", "-q", "-p", "no:cacheprovider", TestEnvironment.repositoryFile("ops/airflow").path],
                environment: environment)
            #expect(pytest.status == 0 && pytest.output.contains("5 passed"), "pytest: \(pytest)")
        }
    }
}
