import CMosquitto
import Foundation
import NIOConcurrencyHelpers

/// An MQTT client on libmosquitto, whose network loop runs on its own thread.
///
/// libmosquitto calls back on that thread; callbacks find this object through the userdata
/// pointer given to `mosquitto_new` and hand messages to an `AsyncStream`.
public final class MQTTClient: @unchecked Sendable {
    // `handle` is created in init and destroyed in deinit; libmosquitto's calls are thread-safe
    // once the loop thread runs (it locks internally).
    private let handle: OpaquePointer
    private let state = NIOLockedValueBox(State())

    struct State {
        var subscriptions: [(String, Int32)] = []
        var connected = false
        var connectWaiters: [CheckedContinuation<Void, any Error>] = []
        var publishWaiters: [Int32: CheckedContinuation<Void, Never>] = [:]
        var published: Set<Int32> = []
        var received: [MQTTMessage] = []
        var receiver: CheckedContinuation<[MQTTMessage]?, Never>?
        var receiveLimit = 1
        var finished = false
        var dropped = 0
    }

    /// Messages kept for a reader that has not taken them; past it, new ones are dropped and counted.
    let maximumQueued: Int
    /// Whether the broker holds the connection now (false while reconnecting).
    public var isConnected: Bool { state.withLockedValue { $0.connected } }
    /// Messages dropped because the reader was that far behind.
    public var dropped: Int { state.withLockedValue { $0.dropped } }

    private static let libraryInitialised: Bool = {
        mosquitto_lib_init()
        return true
    }()

    /// - Parameters:
    ///   - clientID: fixed for a persistent session, so the broker keeps messages while we are away.
    ///   - cleanSession: false to resume the session (and its queued QoS 1 messages) on reconnect.
    ///   - maximumQueued: messages kept for a reader that has not taken them.
    public init(clientID: String, cleanSession: Bool, endpoint: MQTTEndpoint, maximumQueued: Int = 100_000) throws {
        self.maximumQueued = maximumQueued
        _ = Self.libraryInitialised
        guard let handle = mosquitto_new(clientID, cleanSession, nil) else {
            throw MQTTError.library("mosquitto_new", code: MOSQ_ERR_NOMEM.rawValue)
        }
        self.handle = handle
        self.endpoint = endpoint
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        if let username = endpoint.username {
            try Self.check(mosquitto_username_pw_set(handle, username, endpoint.password), "mosquitto_username_pw_set")
        }
        mosquitto_reconnect_delay_set(handle, 1, 10, true)
        mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1)
        mosquitto_connect_callback_set(handle) { _, userdata, code in
            MQTTClient.from(userdata).didConnect(code)
        }
        mosquitto_disconnect_callback_set(handle) { _, userdata, _ in
            MQTTClient.from(userdata).state.withLockedValue { $0.connected = false }
        }
        mosquitto_message_callback_set(handle) { _, userdata, message in
            guard let message else { return }
            MQTTClient.from(userdata).didReceive(message.pointee)
        }
        mosquitto_publish_callback_set(handle) { _, userdata, mid in
            MQTTClient.from(userdata).didPublish(mid)
        }
    }

    let endpoint: MQTTEndpoint

    deinit {
        mosquitto_loop_stop(handle, true)
        mosquitto_destroy(handle)
    }

    static func from(_ userdata: UnsafeMutableRawPointer?) -> MQTTClient {
        Unmanaged<MQTTClient>.fromOpaque(userdata!).takeUnretainedValue()
    }

    /// Connects and starts the network thread; returns once the broker accepted the connection.
    /// Later disconnections reconnect by themselves and restore the subscriptions.
    public func connect(keepAlive: Int32 = 30) async throws {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            state.withLockedValue { $0.connectWaiters.append(waiter) }
            let code = mosquitto_connect_async(handle, endpoint.host, Int32(endpoint.port), keepAlive)
            guard code == MOSQ_ERR_SUCCESS.rawValue else {
                failConnectWaiters(MQTTError.library("mosquitto_connect", code: code))
                return
            }
            let loop = mosquitto_loop_start(handle)
            if loop != MOSQ_ERR_SUCCESS.rawValue {
                failConnectWaiters(MQTTError.library("mosquitto_loop_start", code: loop))
            }
        }
    }

    /// Subscribes now if connected, and again on every (re)connection.
    public func subscribe(_ topic: String, qos: Int32) throws {
        let connected = state.withLockedValue { state in
            state.subscriptions.append((topic, qos))
            return state.connected
        }
        if connected { try Self.check(mosquitto_subscribe(handle, nil, topic, qos), "mosquitto_subscribe") }
    }

    /// Hands a message to the network thread without waiting for the broker.
    public func enqueue(_ topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false) throws {
        let code = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, nil, topic, Int32(bytes.count), bytes.baseAddress, qos, retain)
        }
        try Self.check(code, "mosquitto_publish")
    }

    /// Publishes; for QoS 1 and 2 waits until the broker has acknowledged the message.
    public func publish(_ topic: String, payload: [UInt8], qos: Int32 = 1, retain: Bool = false) async throws {
        var mid: Int32 = 0
        let code = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos, retain)
        }
        try Self.check(code, "mosquitto_publish")
        guard qos > 0 else { return }
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let done = state.withLockedValue { state -> Bool in
                if state.published.remove(mid) != nil { return true }
                state.publishWaiters[mid] = waiter
                return false
            }
            if done { waiter.resume() }
        }
    }

    /// Waits for messages and returns those that have arrived, at most `limit`: a consumer that
    /// is slower than the broker gets larger batches. Nil once disconnected and drained.
    public func receive(limit: Int) async -> [MQTTMessage]? {
        await withCheckedContinuation { (waiter: CheckedContinuation<[MQTTMessage]?, Never>) in
            let ready = state.withLockedValue { state -> [MQTTMessage]?? in
                if !state.received.isEmpty {
                    let batch = Array(state.received.prefix(limit))
                    state.received.removeFirst(batch.count)
                    return .some(batch)
                }
                if state.finished { return .some(nil) }
                state.receiver = waiter
                state.receiveLimit = limit
                return .none
            }
            if let ready { waiter.resume(returning: ready) }
        }
    }

    public func disconnect() {
        mosquitto_disconnect(handle)
        mosquitto_loop_stop(handle, false)
        let waiter = state.withLockedValue { state in
            state.finished = true
            defer { state.receiver = nil }
            return state.receiver
        }
        waiter?.resume(returning: nil)
    }

    // MARK: Callbacks, on libmosquitto's thread

    private func didConnect(_ code: Int32) {
        guard code == 0 else {
            failConnectWaiters(MQTTError.library("CONNACK", code: code))
            return
        }
        let (subscriptions, waiters) = state.withLockedValue { state in
            state.connected = true
            defer { state.connectWaiters = [] }
            return (state.subscriptions, state.connectWaiters)
        }
        for (topic, qos) in subscriptions { mosquitto_subscribe(handle, nil, topic, qos) }
        for waiter in waiters { waiter.resume() }
    }

    private func failConnectWaiters(_ error: any Error) {
        let waiters = state.withLockedValue { state in
            defer { state.connectWaiters = [] }
            return state.connectWaiters
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    private func didReceive(_ message: mosquitto_message) {
        let topic = message.topic.map { String(cString: $0) } ?? ""
        let length = Int(message.payloadlen)
        let payload = length > 0 && message.payload != nil
            ? Array(UnsafeRawBufferPointer(start: message.payload, count: length)) : []
        let received = MQTTMessage(topic: topic, payload: payload, qos: Int(message.qos), retained: message.retain)
        let (waiter, batch) = state.withLockedValue { state -> (CheckedContinuation<[MQTTMessage]?, Never>?, [MQTTMessage]) in
            guard let waiter = state.receiver else {
                if state.received.count < maximumQueued { state.received.append(received) } else { state.dropped += 1 }
                return (nil, [])
            }
            state.receiver = nil
            return (waiter, [received])
        }
        waiter?.resume(returning: batch)
    }

    private func didPublish(_ mid: Int32) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.publishWaiters.removeValue(forKey: mid) { return waiter }
            state.published.insert(mid)
            return nil
        }
        waiter?.resume()
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError.library(call, code: code) }
    }

    static func describe(_ code: Int32) -> String {
        String(cString: mosquitto_strerror(code))
    }
}
