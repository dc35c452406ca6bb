import Foundation
import Glibc

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A running `ops/test-peers/kube_apiserver_standin.py`: the documented kube-apiserver
/// behaviour Trainyard depends on, with scripted pod lifecycles (not a real API server).
public final class KubeAPIServerStandIn: Sendable {
    /// `http://127.0.0.1:PORT` (or `https://` with TLS).
    public let url: URL
    public let token: String
    private let process: Process
    private let directory: URL

    /// TLS material for `--tls-cert/--tls-key/--client-ca` (PEM file paths).
    public struct TLS: Sendable {
        public var certificate: String
        public var key: String
        public var clientCA: String?

        public init(certificate: String, key: String, clientCA: String? = nil) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
        }
    }

    /// Starts the stand-in with TRAINYARD_TEST_PYTHON and waits for its port.
    public init(tls: TLS? = nil, forbid: [String] = []) throws {
        directory = try TestEnvironment.temporaryDirectory("kube-standin")
        token = UUID().uuidString
        var arguments = ["--token", token]
        if let tls {
            arguments += ["--tls-cert", tls.certificate, "--tls-key", tls.key]
            if let ca = tls.clientCA { arguments += ["--client-ca", ca] }
        }
        for rule in forbid { arguments += ["--forbid", rule] }
        let started = try TestPython.startPeer(
            "kube_apiserver_standin.py", arguments: arguments, log: directory.appendingPathComponent("standin.log"))
        process = started.process
        guard let port = TestPython.port(announcedIn: started.firstLine) else {
            throw TestEnvironment.Missing(description: "unexpected stand-in output: \(started.firstLine)")
        }
        url = URL(string: "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)")!
    }

    deinit { stop() }

    /// A kubeconfig that reaches the stand-in with its bearer token; returns its path.
    public func writeKubeconfig(namespace: String, certificateAuthority: String? = nil) throws -> String {
        let path = directory.appendingPathComponent("kubeconfig").path
        let ca = certificateAuthority.map { "\n    certificate-authority: \($0)" } ?? ""
        let text = """
            apiVersion: v1
            kind: Config
            current-context: standin
            clusters:
            - name: standin
              cluster:
                server: \(url.absoluteString)\(ca)
            users:
            - name: tester
              user:
                token: \(token)
            contexts:
            - name: standin
              context: {cluster: standin, user: tester, namespace: \(namespace)}
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Cuts every open watch connection mid-stream.
    public func dropWatches() async throws { _ = try await control("POST", "drop-watches") }

    /// Compacts history: every resourceVersion handed out so far becomes too old (410).
    public func expireResourceVersions() async throws { _ = try await control("POST", "expire") }

    /// Answers the next API requests with these HTTP codes (e.g. 429, 503), in order.
    public func failNext(_ codes: [Int]) async throws {
        _ = try await control("POST", "fail-next", body: try JSONEncoder().encode(["codes": codes]))
    }

    /// Ends the run time of the Job's pod now (its scenario then finishes as scripted), so a
    /// test decides when a running attempt ends instead of racing the stand-in's clock.
    public func release(job name: String, namespace: String = "ml") async throws {
        _ = try await control("POST", "release", body: try JSONEncoder().encode(["job": name, "namespace": namespace]))
    }

    /// Creates and conflicts per Job name, requests per "METHOD path", and open watch
    /// connections per kind (`jobs`, `pods`).
    public struct Stats: Decodable, Sendable {
        public var creates: [String: Int]
        public var conflicts: [String: Int]
        public var requests: [String: Int]
        public var openWatches: [String: Int]
    }

    public func stats() async throws -> Stats {
        try JSONDecoder().decode(Stats.self, from: try await control("GET", "stats"))
    }

    /// Runs `validate_kubernetes_objects.py` on every Job the stand-in received; returns its
    /// exit status and output.
    public func validateCreatedJobs() async throws -> (status: Int32, output: String) {
        let result = try await TestEnvironment.run(
            try TestEnvironment.python(), [TestPython.peerScript("validate_kubernetes_objects.py").path, url.absoluteString])
        return (result.status, result.output + result.errors)
    }

    public func stop() {
        TestPython.stop(process)
        if ProcessInfo.processInfo.environment["TRAINYARD_TEST_KEEP"] == nil { try? FileManager.default.removeItem(at: directory) }
    }

    private func control(_ method: String, _ action: String, body: Data? = nil) async throws -> Data {
        var request = URLRequest(url: url.appendingPathComponent("_standin/\(action)"))
        request.httpMethod = method
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, _) = try await URLSession.shared.data(for: request)
        return data
    }
}
