import Foundation
import Yams

/// A kubeconfig file (`clusters`, `users`, `contexts`, `current-context`): the fields of token
/// and client-certificate authentication. Exec and auth-provider plugins are not supported.
public struct Kubeconfig: Decodable, Sendable {
    public var currentContext: String?
    public var clusters: [Named<Cluster>]
    public var users: [Named<User>]
    public var contexts: [Named<Context>]
    /// Relative file paths in the file are relative to its folder.
    var baseDirectory: String = "."

    enum CodingKeys: String, CodingKey {
        case currentContext = "current-context"
        case clusters, users, contexts
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        currentContext = try container.decodeIfPresent(String.self, forKey: .currentContext)
        clusters = try container.decodeIfPresent([Named<Cluster>].self, forKey: .clusters) ?? []
        users = try container.decodeIfPresent([Named<User>].self, forKey: .users) ?? []
        contexts = try container.decodeIfPresent([Named<Context>].self, forKey: .contexts) ?? []
    }

    /// A `{name, <field>}` entry of one of the three lists.
    public struct Named<Value: Decodable & Sendable>: Decodable, Sendable {
        public var name: String
        public var value: Value

        enum CodingKeys: String, CodingKey { case name, cluster, user, context }

        public init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            let key: CodingKeys =
                Value.self == Cluster.self ? .cluster : Value.self == User.self ? .user : .context
            value = try container.decode(Value.self, forKey: key)
        }
    }

    /// `clusters[].cluster`.
    public struct Cluster: Decodable, Sendable {
        public var server: String
        public var certificateAuthority: String?
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }

    /// `users[].user`.
    public struct User: Decodable, Sendable {
        public var token: String?
        public var tokenFile: String?
        public var clientCertificate: String?
        public var clientCertificateData: String?
        public var clientKey: String?
        public var clientKeyData: String?
        public var exec: Plugin?
        public var authProvider: Plugin?

        enum CodingKeys: String, CodingKey {
            case token, exec
            case tokenFile = "tokenFile"
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }

    /// An `exec` or `auth-provider` entry: only detected, to say it is unsupported.
    public struct Plugin: Decodable, Sendable {}

    /// `contexts[].context`.
    public struct Context: Decodable, Sendable {
        public var cluster: String
        public var user: String?
        public var namespace: String?
    }

    /// Parses kubeconfig YAML; `baseDirectory` resolves relative file paths.
    public static func parse(_ text: String, baseDirectory: String) throws(KubernetesError) -> Kubeconfig {
        do {
            var config = try YAMLDecoder().decode(Kubeconfig.self, from: text)
            config.baseDirectory = baseDirectory
            return config
        } catch {
            throw KubernetesError(.configuration, "kubeconfig is not valid: \(error)")
        }
    }

    /// The connection of `context` (default: `current-context`).
    public func connection(context name: String? = nil) throws(KubernetesError) -> KubernetesConnection {
        guard let contextName = name ?? currentContext else {
            throw KubernetesError(.configuration, "kubeconfig has no current-context and none was given")
        }
        guard let context = contexts.first(where: { $0.name == contextName })?.value else {
            throw KubernetesError(.configuration, "kubeconfig has no context \"\(contextName)\"")
        }
        guard let cluster = clusters.first(where: { $0.name == context.cluster })?.value else {
            throw KubernetesError(.configuration, "kubeconfig context \"\(contextName)\" names cluster \"\(context.cluster)\", which is not defined")
        }
        guard let server = URL(string: cluster.server), server.scheme == "https" || server.scheme == "http" else {
            throw KubernetesError(.configuration, "kubeconfig cluster \"\(context.cluster)\" has no valid server URL")
        }
        let user = context.user.flatMap { name in users.first { $0.name == name }?.value }
        if context.user != nil, user == nil {
            throw KubernetesError(.configuration, "kubeconfig context \"\(contextName)\" names user \"\(context.user!)\", which is not defined")
        }
        return KubernetesConnection(
            server: server, credentials: try credentials(user),
            certificateAuthorityPEM: try material(cluster.certificateAuthorityData, cluster.certificateAuthority, "certificate-authority"),
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ?? false, defaultNamespace: context.namespace)
    }

    private func credentials(_ user: User?) throws(KubernetesError) -> KubernetesConnection.Credentials {
        guard let user else { return .none }
        if user.exec != nil || user.authProvider != nil {
            throw KubernetesError(
                .configuration, "kubeconfig user uses an exec/auth-provider plugin, which Trainyard does not run; use a token or client certificate")
        }
        if let token = user.token { return .bearerToken(token) }
        if let file = user.tokenFile { return .bearerTokenFile(resolve(file)) }
        if let certificate = try material(user.clientCertificateData, user.clientCertificate, "client-certificate") {
            guard let key = try material(user.clientKeyData, user.clientKey, "client-key") else {
                throw KubernetesError(.configuration, "kubeconfig user has a client certificate but no client key")
            }
            return .clientCertificate(certificatePEM: certificate, keyPEM: key)
        }
        return .none
    }

    /// Inline base64 data wins over a file path.
    private func material(_ base64: String?, _ path: String?, _ field: String) throws(KubernetesError) -> [UInt8]? {
        if let base64 {
            guard let data = Data(base64Encoded: base64, options: .ignoreUnknownCharacters) else {
                throw KubernetesError(.configuration, "kubeconfig \(field)-data is not base64")
            }
            return [UInt8](data)
        }
        guard let path else { return nil }
        guard let data = FileManager.default.contents(atPath: resolve(path)) else {
            throw KubernetesError(.configuration, "cannot read kubeconfig \(field) file \(resolve(path))")
        }
        return [UInt8](data)
    }

    private func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : "\(baseDirectory)/\(path)"
    }
}
