import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A REST client for the Jobs and Pods of one API server.
///
/// Calls that can be repeated safely are retried on 429, 5xx and connection failures with
/// exponential backoff and full jitter (honouring `Retry-After`); other errors are mapped to
/// ``KubernetesError`` at once. Call ``shutdown()`` before dropping the client.
public final class KubernetesClient: Sendable {
    public let connection: KubernetesConnection
    public let retry: KubernetesRetryPolicy
    let http: HTTPClient
    private let logger: Logger

    public init(connection: KubernetesConnection, retry: KubernetesRetryPolicy = KubernetesRetryPolicy(), logger: Logger) throws(KubernetesError) {
        self.connection = connection
        self.retry = retry
        self.logger = logger
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: try Self.tlsConfiguration(connection), redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: nil))
        configuration.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connection pool.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    // MARK: Jobs and pods

    /// Creates a Job; `alreadyExists` when one of that name exists (the caller adopts it).
    public func createJob(_ job: KubernetesJob, namespace: String) async throws(KubernetesError) -> KubernetesJob {
        try await send(.POST, path: jobsPath(namespace), body: job, verb: "create", resource: "jobs.batch", namespace: namespace)
    }

    /// The Job called `name`; `notFound` when there is none.
    public func job(_ name: String, namespace: String) async throws(KubernetesError) -> KubernetesJob {
        try await send(.GET, path: "\(jobsPath(namespace))/\(name)", verb: "get", resource: "jobs.batch", namespace: namespace)
    }

    /// Jobs matching a label selector (`key=value,key2=value2`).
    public func listJobs(namespace: String, labelSelector: String) async throws(KubernetesError) -> KubernetesList<KubernetesJob> {
        try await send(
            .GET, path: jobsPath(namespace), query: ["labelSelector": labelSelector], verb: "list", resource: "jobs.batch", namespace: namespace)
    }

    /// Pods matching a label selector.
    public func listPods(namespace: String, labelSelector: String) async throws(KubernetesError) -> KubernetesList<KubernetesPod> {
        try await send(.GET, path: podsPath(namespace), query: ["labelSelector": labelSelector], verb: "list", resource: "pods", namespace: namespace)
    }

    /// Deletes a Job and lets the garbage collector remove its pods in the background. Deleting
    /// a Job that does not exist succeeds.
    public func deleteJob(_ name: String, namespace: String) async throws(KubernetesError) {
        struct DeleteOptions: Codable {
            var apiVersion = "v1"
            var kind = "DeleteOptions"
            var propagationPolicy = "Background"
        }
        do {
            let _: KubernetesStatusOrObject = try await send(
                .DELETE, path: "\(jobsPath(namespace))/\(name)", body: DeleteOptions(), verb: "delete", resource: "jobs.batch", namespace: namespace)
        } catch  where error.kind == .notFound {
            return
        }
    }

    /// Watches Jobs matching a selector from `resourceVersion`, with bookmarks. The stream ends
    /// when the server closes it (after about `timeoutSeconds`) or the connection drops.
    public func watchJobs(namespace: String, labelSelector: String, resourceVersion: String, timeoutSeconds: Int) async throws(KubernetesError)
        -> KubernetesWatchStream<KubernetesJob>
    {
        try await watch(
            jobsPath(namespace), labelSelector: labelSelector, resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds,
            resource: "jobs.batch", namespace: namespace)
    }

    /// Watches Pods matching a selector from `resourceVersion`, with bookmarks.
    public func watchPods(namespace: String, labelSelector: String, resourceVersion: String, timeoutSeconds: Int) async throws(KubernetesError)
        -> KubernetesWatchStream<KubernetesPod>
    {
        try await watch(
            podsPath(namespace), labelSelector: labelSelector, resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds, resource: "pods",
            namespace: namespace)
    }

    private func jobsPath(_ namespace: String) -> String { "/apis/batch/v1/namespaces/\(namespace)/jobs" }
    private func podsPath(_ namespace: String) -> String { "/api/v1/namespaces/\(namespace)/pods" }

    // MARK: Requests

    private func watch<Object>(
        _ path: String, labelSelector: String, resourceVersion: String, timeoutSeconds: Int, resource: String, namespace: String
    ) async throws(KubernetesError) -> KubernetesWatchStream<Object> {
        let query = [
            "watch": "true", "labelSelector": labelSelector, "resourceVersion": resourceVersion, "allowWatchBookmarks": "true",
            "timeoutSeconds": String(timeoutSeconds),
        ]
        let request = try makeRequest(.GET, path: path, query: query, body: nil)
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
        } catch {
            throw KubernetesError(.transient, "watch \(resource): \(error)")
        }
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: 1 << 20)
            let status = body.flatMap { try? JSONDecoder().decode(KubernetesStatus.self, from: Data($0.readableBytesView)) }
            throw KubernetesError.from(statusCode: Int(response.status.code), status: status, verb: "watch", resource: resource, namespace: namespace)
        }
        return KubernetesWatchStream(body: response.body)
    }

    private func send<Response: Decodable>(
        _ method: HTTPMethod, path: String, query: [String: String] = [:], verb: String, resource: String, namespace: String
    ) async throws(KubernetesError) -> Response {
        try await send(method, path: path, query: query, body: Optional<KubernetesStatus>.none, verb: verb, resource: resource, namespace: namespace)
    }

    /// One call with retries. POST is retried too: a repeated create answers 409, which the caller adopts.
    private func send<Body: Encodable, Response: Decodable>(
        _ method: HTTPMethod, path: String, query: [String: String] = [:], body: Body?, verb: String, resource: String, namespace: String
    ) async throws(KubernetesError) -> Response {
        let encoded: Data?
        do { encoded = try body.map { try JSONEncoder().encode($0) } } catch {
            throw KubernetesError(.invalid, "cannot encode the \(resource) request: \(error)")
        }
        var attempt = 0
        while true {
            attempt += 1
            let request = try makeRequest(method, path: path, query: query, body: encoded)
            let failure: KubernetesError
            var retryAfter: Double?
            do {
                let response = try await http.execute(request, timeout: retry.requestTimeout)
                let bytes = try await response.body.collect(upTo: 64 << 20)
                let data = Data(bytes.readableBytesView)
                if (200..<300).contains(Int(response.status.code)) {
                    do { return try JSONDecoder().decode(Response.self, from: data) } catch {
                        throw KubernetesError(.invalid, "\(verb) \(resource): unexpected response: \(error)")
                    }
                }
                let status = try? JSONDecoder().decode(KubernetesStatus.self, from: data)
                failure = .from(statusCode: Int(response.status.code), status: status, verb: verb, resource: resource, namespace: namespace)
                retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init)
            } catch let error as KubernetesError {
                throw error
            } catch {
                failure = KubernetesError(.transient, "\(verb) \(resource): \(error)")
            }
            guard failure.kind == .transient, attempt < retry.maxAttempts else { throw failure }
            let delay = retryAfter ?? retry.delay(beforeAttempt: attempt + 1)
            logger.debug("retrying after \(failure)", metadata: ["delay": "\(delay)", "attempt": "\(attempt)"])
            do { try await Task.sleep(for: .seconds(delay)) } catch {
                throw KubernetesError(.transient, "cancelled while retrying \(verb) \(resource)")
            }
        }
    }

    func makeRequest(_ method: HTTPMethod, path: String, query: [String: String], body: Data?) throws(KubernetesError) -> HTTPClientRequest {
        var components = URLComponents(url: connection.server, resolvingAgainstBaseURL: false)!
        components.path = (components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path) + path
        if !query.isEmpty { components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) } }
        // `+` and `,` are legal in a query, but `=` inside a label selector value must be escaped.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        var request = HTTPClientRequest(url: components.url!.absoluteString)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "trainyard")
        if let authorization = try connection.authorizationHeader() { request.headers.add(name: "Authorization", value: authorization) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    private static func tlsConfiguration(_ connection: KubernetesConnection) throws(KubernetesError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = connection.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if case .clientCertificate(let certificate, let key) = connection.credentials {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubernetesError(.configuration, "cannot load the TLS material of the Kubernetes connection: \(error)")
        }
        if connection.insecureSkipTLSVerify { tls.certificateVerification = .none }
        return tls
    }
}

/// Decodes any JSON object (the body of a DELETE answer is a Status or the deleted object).
private struct KubernetesStatusOrObject: Decodable {}

/// Backoff for retried calls.
public struct KubernetesRetryPolicy: Sendable {
    /// Tries per call, including the first.
    public var maxAttempts: Int
    public var baseDelaySeconds: Double
    public var maxDelaySeconds: Double
    /// Deadline for one request's response head.
    public var requestTimeout: TimeAmount

    public init(maxAttempts: Int = 5, baseDelaySeconds: Double = 0.2, maxDelaySeconds: Double = 10, requestTimeout: TimeAmount = .seconds(30)) {
        self.maxAttempts = maxAttempts
        self.baseDelaySeconds = baseDelaySeconds
        self.maxDelaySeconds = maxDelaySeconds
        self.requestTimeout = requestTimeout
    }

    /// Full jitter: uniform in [0, min(max, base · 2^(attempt−2))].
    public func delay(beforeAttempt attempt: Int) -> Double {
        let ceiling = min(maxDelaySeconds, baseDelaySeconds * pow(2, Double(max(0, attempt - 2))))
        return Double.random(in: 0...ceiling)
    }
}
