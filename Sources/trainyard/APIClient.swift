import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TrainyardCore

/// The CLI's client of the aggregator's HTTP API (`--api URL`, TRAINYARD_API_URL; the key from
/// TRAINYARD_API_KEY, sent as a bearer token and never printed).
struct APIClient {
    let baseURL: String
    let key: String
    var client: HTTPClient = .shared

    /// What the API answered when it refused a request.
    struct Refusal: Error, CustomStringConvertible {
        var status: Int
        var code: String
        var message: String
        var fields: [SpecViolation]

        var description: String {
            ([message] + fields.map { "  \($0)" }).joined(separator: "\n")
        }
    }

    /// The fields of `GET /v1/jobs/{id}` the CLI shows.
    struct JobProgress: Decodable {
        var jobID: JobID
        var state: JobState
        var reason: String?
        var exitCode: Int32?

        enum CodingKeys: String, CodingKey {
            case jobID = "jobId"
            case state, reason, exitCode
        }
    }

    init(baseURL: String, key: String?) throws {
        guard let key, !key.isEmpty else {
            throw CLIError("the API needs a key: set TRAINYARD_API_KEY (./ops/quickstart prints where the development key is)")
        }
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
    }

    /// `POST /v1/jobs` with the spec file's bytes; YAML unless the file is JSON.
    func submit(spec: Data, json: Bool) async throws -> JobID {
        struct Accepted: Decodable {
            var jobId: JobID
        }
        let body = try await send(.POST, "/v1/jobs", body: spec, contentType: json ? "application/json" : "application/yaml")
        return try JSONDecoder().decode(Accepted.self, from: body).jobId
    }

    /// `GET /v1/jobs/{id}`; nil while the API does not know the job yet.
    func job(_ id: JobID) async throws -> JobProgress? {
        do {
            return try WireFormat.decoder().decode(JobProgress.self, from: try await send(.GET, "/v1/jobs/\(id)"))
        } catch let refusal as Refusal where refusal.status == 404 {
            return nil
        }
    }

    private func send(_ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String? = nil) async throws -> Data {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            throw CLIError("cannot reach the API at \(baseURL): \(error)")
        }
        let data = Data(buffer: try await response.body.collect(upTo: 8 * 1024 * 1024))
        guard (200..<300).contains(Int(response.status.code)) else {
            struct Envelope: Decodable {
                struct Detail: Decodable {
                    var code: String
                    var message: String
                    var fields: [SpecViolation]?
                }
                var error: Detail
            }
            let detail = (try? JSONDecoder().decode(Envelope.self, from: data))?.error
            throw Refusal(
                status: Int(response.status.code), code: detail?.code ?? "http_\(response.status.code)",
                message: detail?.message ?? "HTTP \(response.status.code) from \(method) \(path)", fields: detail?.fields ?? [])
        }
        return data
    }
}

/// A CLI failure explained in one message (exit code 4: the request could not be made).
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
