// SPDX-License-Identifier: Apache-2.0
// JSON conversion of the v1 messages, with field-naming decode errors.
#include "damselfly/proto/messages.hpp"

#include "damselfly/common/base64.hpp"
#include "damselfly/common/hex.hpp"
#include "damselfly/common/http_message.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace damselfly::proto {

using nlohmann::json;

namespace {

/// Thrown inside decoding only; decode() turns it into a decode_error.
struct field_error : std::runtime_error {
  field_error(std::string f, const std::string& msg)
      : std::runtime_error(msg), field(std::move(f)) {}
  std::string field;
};

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
bool has_type(const json& v) {
  if constexpr (std::is_same_v<T, bool>)
    return v.is_boolean();
  else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>)
    return v.is_number_unsigned();
  else if constexpr (std::is_integral_v<T>)
    return v.is_number_integer();
  else if constexpr (std::is_same_v<T, std::string>)
    return v.is_string();
  else if constexpr (is_vector<T>::value)
    return v.is_array();
  else
    return v.is_object();
}

template <class T>
void read_value(const json& v, const std::string& name, T& out) {
  if (!has_type<T>(v)) throw field_error(name, "field '" + name + "' has the wrong type");
  if constexpr (is_vector<T>::value) {
    out.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
      typename T::value_type item{};
      read_value(v[i], name + "[" + std::to_string(i) + "]", item);
      out.push_back(std::move(item));
    }
  } else {
    try {
      v.get_to(out);
    } catch (const field_error& e) {
      throw field_error(name + "." + e.field, "field '" + name + "." + e.field + "': " + e.what());
    } catch (const json::exception& e) {
      throw field_error(name, "field '" + name + "' is invalid: " + e.what());
    }
  }
}

template <class T>
void required(const json& j, const char* name, T& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null())
    throw field_error(name, std::string("missing required field '") + name + "'");
  read_value(*it, name, out);
}

template <class T>
void optional_field(const json& j, const char* name, T& out) {
  auto it = j.find(name);
  if (it != j.end() && !it->is_null()) read_value(*it, name, out);
}

/// An optional object of strings, naming the exact key at fault.
void optional_string_map(const json& j, const std::string& name,
                         std::map<std::string, std::string>& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_object()) throw field_error(name, "field '" + name + "' has the wrong type");
  for (const auto& [k, val] : it->items()) {
    if (!val.is_string())
      throw field_error(name + "." + k, "field '" + name + "." + k + "' has the wrong type");
    out[k] = val.get<std::string>();
  }
}

/// One table per enum gives both directions of its wire names.
constexpr std::pair<task_state, std::string_view> task_state_names[]{
    {task_state::running, "running"}, {task_state::done, "done"}, {task_state::failed, "failed"}};
constexpr std::pair<piece_status, std::string_view> piece_status_names[]{
    {piece_status::ok, "ok"},
    {piece_status::bad_digest, "bad_digest"},
    {piece_status::unreachable, "unreachable"},
    {piece_status::error, "error"}};
constexpr std::pair<local_command, std::string_view> local_command_names[]{
    {local_command::download, "download"},
    {local_command::cache_list, "cache_list"},
    {local_command::cache_rm, "cache_rm"},
    {local_command::cache_gc, "cache_gc"}};
constexpr std::pair<local_event_kind, std::string_view> local_event_names[]{
    {local_event_kind::progress, "progress"},
    {local_event_kind::done, "done"},
    {local_event_kind::error, "error"}};
constexpr std::pair<job_state, std::string_view> job_state_names[]{
    {job_state::pending, "pending"},
    {job_state::running, "running"},
    {job_state::done, "done"},
    {job_state::failed, "failed"},
    {job_state::cancelled, "cancelled"}};

template <class E, std::size_t N>
std::string_view name_of(const std::pair<E, std::string_view> (&table)[N], E value) noexcept {
  for (const auto& [e, name] : table)
    if (e == value) return name;
  return "unknown";
}

template <class E, std::size_t N>
std::optional<E> parse_enum(const std::pair<E, std::string_view> (&table)[N],
                            std::string_view text) noexcept {
  for (const auto& [e, name] : table)
    if (name == text) return e;
  return std::nullopt;
}

task_state state_from(const std::string& s) {
  auto parsed = parse_enum(task_state_names, s);
  if (!parsed) throw field_error("state", "field 'state' has unknown value '" + s + "'");
  return *parsed;
}

}  // namespace

std::string_view to_string(task_state s) noexcept {
  return name_of(task_state_names, s);
}
std::string_view to_string(piece_status s) noexcept {
  return name_of(piece_status_names, s);
}
std::string_view to_string(local_command c) noexcept {
  return name_of(local_command_names, c);
}
std::string_view to_string(local_event_kind e) noexcept {
  return name_of(local_event_names, e);
}
std::string_view to_string(job_state s) noexcept {
  return name_of(job_state_names, s);
}
std::optional<piece_status> parse_piece_status(std::string_view text) noexcept {
  return parse_enum(piece_status_names, text);
}

std::string encode_bitmap(const std::vector<bool>& have) {
  std::string out;
  out.reserve(have.size());
  for (bool b : have) out.push_back(b ? '1' : '0');
  return out;
}

std::vector<bool> decode_bitmap(std::string_view text) {
  std::vector<bool> out(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) out[i] = text[i] == '1';
  return out;
}

void to_json(json& j, const error_info& v) {
  j = json{{"code", v.code}, {"message", v.message}};
  if (!v.field.empty()) j["field"] = v.field;
  if (v.origin_status != 0) j["origin_status"] = v.origin_status;
}
void from_json(const json& j, error_info& v) {
  required(j, "code", v.code);
  optional_field(j, "message", v.message);
  optional_field(j, "field", v.field);
  optional_field(j, "origin_status", v.origin_status);
}

namespace {

void write_identity(json& j, const task_identity& id) {
  j["url"] = id.url;
  if (!id.filters.empty()) j["filters"] = id.filters;
  if (!id.tag.empty()) j["tag"] = id.tag;
  if (!id.digest.empty()) j["digest"] = id.digest;
  if (!id.identifier.empty()) j["identifier"] = id.identifier;
}

/// The url is required where a task must be named.
void read_identity(const json& j, task_identity& id, bool url_required) {
  if (url_required)
    required(j, "url", id.url);
  else
    optional_field(j, "url", id.url);
  optional_field(j, "filters", id.filters);
  optional_field(j, "tag", id.tag);
  optional_field(j, "digest", id.digest);
  optional_field(j, "identifier", id.identifier);
}

}  // namespace

void to_json(json& j, const register_request& v) {
  j = json{{"peer_id", v.peer_id}};
  write_identity(j, v.identity);
  if (!v.headers.empty()) j["headers"] = v.headers;
  if (!v.upload_addr.empty()) j["upload_addr"] = v.upload_addr;
  if (!v.idc.empty()) j["idc"] = v.idc;
  if (!v.location.empty()) j["location"] = v.location;
  if (v.upload_slots != 0) j["upload_slots"] = v.upload_slots;
  if (!v.bitmap.empty()) j["bitmap"] = v.bitmap;
  if (!v.version.empty()) j["version"] = v.version;
}
void from_json(const json& j, register_request& v) {
  read_identity(j, v.identity, true);
  required(j, "peer_id", v.peer_id);
  optional_string_map(j, "headers", v.headers);
  optional_field(j, "upload_addr", v.upload_addr);
  optional_field(j, "idc", v.idc);
  optional_field(j, "location", v.location);
  optional_field(j, "upload_slots", v.upload_slots);
  optional_field(j, "bitmap", v.bitmap);
  optional_field(j, "version", v.version);
  if (v.bitmap.find_first_not_of("01") != std::string::npos)
    throw field_error("bitmap", "field 'bitmap' must contain only '0' and '1'");
}

void to_json(json& j, const task_replica& v) {
  j = json{{"task_id", v.task_id},
           {"content_length", v.content_length},
           {"piece_size", v.piece_size},
           {"version", v.version},
           {"etag", v.etag},
           {"last_modified", v.last_modified},
           {"first", v.first},
           {"digests", v.digests},
           {"file_sha256", v.file_sha256},
           {"sent_at", v.sent_at},
           {"held", v.held},
           {"peers", v.peers},
           {"stopping", v.stopping}};
}
void from_json(const json& j, task_replica& v) {
  required(j, "task_id", v.task_id);
  required(j, "content_length", v.content_length);
  required(j, "piece_size", v.piece_size);
  required(j, "digests", v.digests);
  required(j, "sent_at", v.sent_at);
  optional_field(j, "version", v.version);
  optional_field(j, "etag", v.etag);
  optional_field(j, "last_modified", v.last_modified);
  optional_field(j, "file_sha256", v.file_sha256);
  optional_field(j, "held", v.held);
  optional_field(j, "peers", v.peers);
  optional_field(j, "stopping", v.stopping);
  optional_field(j, "first", v.first);
}

void to_json(json& j, const replica_receipt& v) {
  j = json{{"known", v.known}};
}
void from_json(const json& j, replica_receipt& v) {
  required(j, "known", v.known);
}

void to_json(json& j, const task_info& v) {
  j = json{{"task_id", v.task_id},
           {"state", to_string(v.state)},
           {"content_length", v.content_length},
           {"piece_size", v.piece_size},
           {"piece_count", v.piece_count},
           {"version", v.version}};
  if (!v.file_sha256.empty()) j["file_sha256"] = v.file_sha256;
  if (v.error) j["error"] = *v.error;
  if (!v.peer_key.empty()) j["peer_key"] = v.peer_key;
  if (!v.ticket_key.empty()) j["ticket_key"] = v.ticket_key;
  if (!v.last_modified.empty()) j["last_modified"] = v.last_modified;
}
void from_json(const json& j, task_info& v) {
  required(j, "task_id", v.task_id);
  std::string state;
  required(j, "state", state);
  v.state = state_from(state);
  required(j, "content_length", v.content_length);
  required(j, "piece_size", v.piece_size);
  required(j, "piece_count", v.piece_count);
  optional_field(j, "version", v.version);
  optional_field(j, "file_sha256", v.file_sha256);
  optional_field(j, "peer_key", v.peer_key);
  optional_field(j, "ticket_key", v.ticket_key);
  optional_field(j, "last_modified", v.last_modified);
  if (v.last_modified.size() > 64)
    throw field_error("last_modified", "field 'last_modified' is longer than 64 characters");
  if (j.contains("error") && !j["error"].is_null()) {
    error_info e;
    read_value(j["error"], "error", e);
    v.error = std::move(e);
  }
}

void to_json(json& j, const piece_result& v) {
  j = json{{"piece", v.piece},
           {"status", to_string(v.status)},
           {"source", v.source},
           {"bytes", v.bytes},
           {"duration_ms", v.duration_ms}};
  if (v.sha256.empty()) return;
  if (auto raw = from_hex(v.sha256)) j["digest"] = to_base64(*raw);
}
void from_json(const json& j, piece_result& v) {
  required(j, "piece", v.piece);
  std::string status;
  required(j, "status", status);
  auto parsed = parse_piece_status(status);
  if (!parsed) throw field_error("status", "field 'status' has unknown value '" + status + "'");
  v.status = *parsed;
  optional_field(j, "source", v.source);
  optional_field(j, "bytes", v.bytes);
  optional_field(j, "duration_ms", v.duration_ms);
  if (j.contains("digest")) {
    std::string text;
    required(j, "digest", text);
    auto raw = from_base64(text);
    if (!raw || raw->size() != 32)
      throw field_error("digest", "field 'digest' is not a SHA-256 in base64");
    v.sha256 = to_hex(raw->data(), raw->size());
  }
}

void to_json(json& j, const sync_request& v) {
  j = json{
      {"results", v.results}, {"want", v.want}, {"wait_ms", v.wait_ms}, {"version", v.version}};
  if (!v.known_state.empty()) j["known_state"] = v.known_state;
  if (!v.ticket_tail.empty()) j["ticket_tail"] = v.ticket_tail;
  if (v.compact) j["compact"] = true;
  if (v.report_every != 0) j["report_every"] = v.report_every;
  if (v.report_digests) j["report_digests"] = true;
  if (v.parents) j["parents"] = true;
}
void from_json(const json& j, sync_request& v) {
  optional_field(j, "results", v.results);
  required(j, "want", v.want);
  optional_field(j, "wait_ms", v.wait_ms);
  optional_field(j, "version", v.version);
  optional_field(j, "known_state", v.known_state);
  optional_field(j, "ticket_tail", v.ticket_tail);
  optional_field(j, "compact", v.compact);
  optional_field(j, "report_every", v.report_every);
  optional_field(j, "report_digests", v.report_digests);
  optional_field(j, "parents", v.parents);
  if (v.known_state.size() > 16)
    throw field_error("known_state", "field 'known_state' is longer than 16 characters");
  if (v.ticket_tail.size() > 16)
    throw field_error("ticket_tail", "field 'ticket_tail' is longer than 16 characters");
}

void to_json(json& j, const assignment& v) {
  j = json{{"piece", v.piece},
           {"offset", v.offset},
           {"length", v.length},
           {"sha256", v.sha256},
           {"source", v.source}};
}
void from_json(const json& j, assignment& v) {
  required(j, "piece", v.piece);
  required(j, "offset", v.offset);
  required(j, "length", v.length);
  required(j, "sha256", v.sha256);
  required(j, "source", v.source);
}

namespace {
/// The compact form's sources and [piece, source index, base64 digest]
/// triples (pairs for a peer that reports digests), into full assignments
/// without offset and length.
void read_compact(const json& j, sync_response& v) {
  constexpr std::size_t most = 1024;
  std::vector<std::string> sources;
  required(j, "sources", sources);
  const auto& pieces = j.at("pieces");
  if (!pieces.is_array()) throw field_error("pieces", "field 'pieces' has the wrong type");
  if (sources.size() > most || pieces.size() > most)
    throw field_error("pieces", "more than 1024 pieces or sources in one answer");
  if (!v.assignments.empty())
    throw field_error("pieces", "an answer has either 'assignments' or 'pieces'");
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto& p = pieces[i];
    auto name = "pieces[" + std::to_string(i) + "]";
    if (!p.is_array() || (p.size() != 2 && p.size() != 3) || !p[0].is_number_unsigned() ||
        !p[1].is_number_unsigned() || (p.size() == 3 && !p[2].is_string()))
      throw field_error(name, "field '" + name + "' is not [piece, source index(, digest)]");
    auto source = p[1].get<std::uint64_t>();
    if (source >= sources.size())
      throw field_error(name, "field '" + name + "' names source " + std::to_string(source) +
                                  " of " + std::to_string(sources.size()));
    assignment a;
    a.piece = p[0].get<std::uint64_t>();
    if (p.size() == 3) {
      auto digest = from_base64(p[2].get<std::string>());
      if (!digest || digest->size() != 32)
        throw field_error(name, "field '" + name + "' has no SHA-256 in base64");
      a.sha256 = to_hex(digest->data(), digest->size());
    }
    a.source = sources[source];
    v.assignments.push_back(std::move(a));
  }
  v.compact = true;
}
}  // namespace

void to_json(json& j, const sync_response& v) {
  if (v.compact) {
    j = json::object();
    if (!v.assignments.empty()) {
      std::vector<std::string> sources;
      json pieces = json::array();
      for (const auto& a : v.assignments) {
        auto at = std::find(sources.begin(), sources.end(), a.source);
        if (at == sources.end()) at = sources.insert(at, a.source);
        json entry = json::array({a.piece, static_cast<std::size_t>(at - sources.begin())});
        // No digest: the peer reports its own and the supernode checks it.
        if (!a.sha256.empty())
          if (auto digest = from_hex(a.sha256)) entry.push_back(to_base64(*digest));
        pieces.push_back(std::move(entry));
      }
      j["sources"] = sources;
      j["pieces"] = std::move(pieces);
    }
  } else {
    j = json{{"assignments", v.assignments}};
  }
  if (v.task) j["task"] = *v.task;
  if (v.report_every != 0) j["report_every"] = v.report_every;
  if (!v.ticket.empty()) j["ticket"] = v.ticket;
  if (!v.rejected.empty()) j["rejected"] = v.rejected;
  if (!v.parents.empty()) j["parents"] = v.parents;
  if (v.parent_sets) j["parent_sets"] = true;
}
void from_json(const json& j, sync_response& v) {
  if (j.contains("task") && !j["task"].is_null()) {
    task_info t;
    required(j, "task", t);
    v.task = std::move(t);
  }
  optional_field(j, "assignments", v.assignments);
  if (j.contains("pieces")) read_compact(j, v);
  optional_field(j, "report_every", v.report_every);
  optional_field(j, "ticket", v.ticket);
  optional_field(j, "rejected", v.rejected);
  if (v.rejected.size() > 1024)
    throw field_error("rejected", "field 'rejected' has more than 1024 entries");
  optional_field(j, "parents", v.parents);
  optional_field(j, "parent_sets", v.parent_sets);
  if (v.parents.size() > 64)
    throw field_error("parents", "field 'parents' has more than 64 entries");
  for (std::size_t i = 0; i < v.parents.size(); ++i) {
    const auto& text = v.parents[i];
    auto hp = host_port::parse(text);
    // An address, nothing else: letters, digits and the punctuation of
    // names, IPv4 and bracketed IPv6.
    bool plain = std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    });
    if (!hp || hp->port == 0 || text.size() > 300 || !plain) {
      auto name = "parents[" + std::to_string(i) + "]";
      throw field_error(name, "field '" + name + "' is not a host:port");
    }
  }
}

void to_json(json& j, const heartbeat_request& v) {
  j = json{{"upload_addr", v.upload_addr}, {"tasks", v.tasks}};
  if (!v.peer_keys.empty()) j["peer_keys"] = v.peer_keys;
  if (!v.idc.empty()) j["idc"] = v.idc;
  if (!v.location.empty()) j["location"] = v.location;
  if (!v.job_reports.empty()) j["job_reports"] = v.job_reports;
  if (!v.host_key.empty()) j["host_key"] = v.host_key;
}
void from_json(const json& j, heartbeat_request& v) {
  optional_field(j, "upload_addr", v.upload_addr);
  required(j, "tasks", v.tasks);
  optional_string_map(j, "peer_keys", v.peer_keys);
  optional_field(j, "idc", v.idc);
  optional_field(j, "location", v.location);
  optional_field(j, "job_reports", v.job_reports);
  if (v.job_reports.size() > 1024)
    throw field_error("job_reports", "field 'job_reports' has more than 1024 entries");
  optional_field(j, "host_key", v.host_key);
}

void to_json(json& j, const heartbeat_response& v) {
  j = json{{"unknown_tasks", v.unknown_tasks}};
  if (!v.jobs.empty()) j["jobs"] = v.jobs;
  if (!v.host_key.empty()) j["host_key"] = v.host_key;
}
void from_json(const json& j, heartbeat_response& v) {
  required(j, "unknown_tasks", v.unknown_tasks);
  optional_field(j, "jobs", v.jobs);
  optional_field(j, "host_key", v.host_key);
}

void to_json(json& j, const cache_entry& v) {
  j = json{{"task_id", v.task_id},
           {"url", v.url},
           {"bytes", v.bytes},
           {"complete", v.complete},
           {"last_used", v.last_used}};
}
void from_json(const json& j, cache_entry& v) {
  required(j, "task_id", v.task_id);
  optional_field(j, "url", v.url);
  optional_field(j, "bytes", v.bytes);
  optional_field(j, "complete", v.complete);
  optional_field(j, "last_used", v.last_used);
}

void to_json(json& j, const local_request& v) {
  j = json{{"command", to_string(v.command)}, {"output", v.output}};
  write_identity(j, v.identity);
  if (!v.task.empty()) j["task"] = v.task;
  if (v.no_back_source) j["no_back_source"] = true;
  if (!v.headers.empty()) j["headers"] = v.headers;
  if (!v.ca_pem.empty()) j["ca_pem"] = v.ca_pem;
  if (v.insecure) j["insecure"] = true;
  if (v.limit_rate != 0) j["limit_rate"] = v.limit_rate;
  if (!v.supernodes.empty()) j["supernodes"] = v.supernodes;
  if (v.connect_timeout_ms != 0) j["connect_timeout_ms"] = v.connect_timeout_ms;
  if (v.read_timeout_ms != 0) j["read_timeout_ms"] = v.read_timeout_ms;
  if (v.parallel != 0) j["parallel"] = v.parallel;
  if (v.piece_tries != 0) j["piece_tries"] = v.piece_tries;
  if (v.total_limit != 0) j["total_limit"] = v.total_limit;
  if (v.accept_shared) j["accept_shared"] = true;
}
void from_json(const json& j, local_request& v) {
  std::string command = "download";
  optional_field(j, "command", command);
  auto parsed = parse_enum(local_command_names, command);
  if (!parsed) throw field_error("command", "field 'command' has unknown value '" + command + "'");
  v.command = *parsed;
  optional_field(j, "task", v.task);
  optional_field(j, "no_back_source", v.no_back_source);
  read_identity(j, v.identity, v.command == local_command::download);
  if (v.command == local_command::download) required(j, "output", v.output);
  optional_string_map(j, "headers", v.headers);
  optional_field(j, "ca_pem", v.ca_pem);
  optional_field(j, "insecure", v.insecure);
  optional_field(j, "limit_rate", v.limit_rate);
  optional_field(j, "supernodes", v.supernodes);
  optional_field(j, "connect_timeout_ms", v.connect_timeout_ms);
  optional_field(j, "read_timeout_ms", v.read_timeout_ms);
  optional_field(j, "parallel", v.parallel);
  optional_field(j, "piece_tries", v.piece_tries);
  optional_field(j, "total_limit", v.total_limit);
  optional_field(j, "accept_shared", v.accept_shared);
  constexpr std::uint32_t hour_ms = 3'600'000;
  if (v.connect_timeout_ms > hour_ms || v.read_timeout_ms > hour_ms)
    throw field_error("read_timeout_ms", "timeouts must be at most an hour");
  if (v.parallel > 64) throw field_error("parallel", "field 'parallel' must be at most 64");
  if (v.piece_tries > 100)
    throw field_error("piece_tries", "field 'piece_tries' must be at most 100");
}

void to_json(json& j, const local_event& v) {
  j = json{{"event", to_string(v.event)}, {"bytes", v.bytes}, {"total", v.total}};
  if (v.event == local_event_kind::done) {
    j["from_supernode"] = v.from_supernode;
    j["from_peers"] = v.from_peers;
    j["from_origin"] = v.from_origin;
    j["elapsed_ms"] = v.elapsed_ms;
    if (v.failovers) j["failovers"] = v.failovers;
    if (!v.warning.empty()) j["warning"] = v.warning;
    if (!v.last_modified.empty()) j["last_modified"] = v.last_modified;
    if (v.shared) j["shared"] = true;
  }
  if (!v.tasks.empty()) j["tasks"] = v.tasks;
  if (v.event == local_event_kind::error) {
    j["code"] = v.code;
    j["exit_code"] = v.exit_code;
    j["message"] = v.message;
  }
}
void from_json(const json& j, local_event& v) {
  std::string event;
  required(j, "event", event);
  auto parsed = parse_enum(local_event_names, event);
  if (!parsed) throw field_error("event", "field 'event' has unknown value '" + event + "'");
  v.event = *parsed;
  optional_field(j, "bytes", v.bytes);
  optional_field(j, "total", v.total);
  optional_field(j, "from_supernode", v.from_supernode);
  optional_field(j, "from_peers", v.from_peers);
  optional_field(j, "from_origin", v.from_origin);
  optional_field(j, "elapsed_ms", v.elapsed_ms);
  optional_field(j, "failovers", v.failovers);
  if (v.failovers > 1000) throw field_error("failovers", "field 'failovers' must be at most 1000");
  optional_field(j, "warning", v.warning);
  optional_field(j, "last_modified", v.last_modified);
  optional_field(j, "shared", v.shared);
  if (v.last_modified.size() > 64)
    throw field_error("last_modified", "field 'last_modified' is longer than 64 characters");
  optional_field(j, "code", v.code);
  optional_field(j, "exit_code", v.exit_code);
  optional_field(j, "message", v.message);
  optional_field(j, "tasks", v.tasks);
}

void to_json(json& j, const error_response& v) {
  j = json{{"error", v.error}};
}
void from_json(const json& j, error_response& v) {
  required(j, "error", v.error);
}

void to_json(json& j, const job_request& v) {
  j = json{{"type", v.type}, {"scope", v.scope}};
  write_identity(j, v.identity);
  if (!v.headers.empty()) j["headers"] = v.headers;
  if (!v.idc.empty()) j["idc"] = v.idc;
  if (!v.location.empty()) j["location"] = v.location;
  if (!v.hosts.empty()) j["hosts"] = v.hosts;
  if (v.percentage != 100) j["percentage"] = v.percentage;
}
void from_json(const json& j, job_request& v) {
  optional_field(j, "type", v.type);
  if (v.type != "preheat")
    throw field_error("type", "field 'type' has unknown value '" + v.type + "' (only 'preheat')");
  read_identity(j, v.identity, true);
  optional_string_map(j, "headers", v.headers);
  optional_field(j, "scope", v.scope);
  if (v.scope != "supernode" && v.scope != "all_peers")
    throw field_error("scope", "field 'scope' must be 'supernode' or 'all_peers'");
  optional_field(j, "idc", v.idc);
  optional_field(j, "location", v.location);
  optional_field(j, "hosts", v.hosts);
  if (v.hosts.size() > 100000) throw field_error("hosts", "field 'hosts' is too long");
  optional_field(j, "percentage", v.percentage);
  if (v.percentage < 1 || v.percentage > 100)
    throw field_error("percentage", "field 'percentage' must be 1-100");
}

namespace {

job_state job_state_from(const std::string& s) {
  auto parsed = parse_enum(job_state_names, s);
  if (!parsed) throw field_error("state", "field 'state' has unknown value '" + s + "'");
  return *parsed;
}

}  // namespace

void to_json(json& j, const job_report& v) {
  j = json{{"id", v.id}, {"state", to_string(v.state)}, {"bytes", v.bytes}};
  if (!v.error.empty()) j["error"] = v.error;
}
void from_json(const json& j, job_report& v) {
  required(j, "id", v.id);
  std::string state;
  required(j, "state", state);
  v.state = job_state_from(state);
  optional_field(j, "bytes", v.bytes);
  optional_field(j, "error", v.error);
  if (v.error.size() > 1024) v.error.resize(1024);
}

void to_json(json& j, const job_order& v) {
  j = json{{"id", v.id}};
  write_identity(j, v.identity);
  if (!v.headers.empty()) j["headers"] = v.headers;
}
void from_json(const json& j, job_order& v) {
  required(j, "id", v.id);
  read_identity(j, v.identity, true);
  optional_string_map(j, "headers", v.headers);
}

void to_json(json& j, const job_target& v) {
  j = json{{"host", v.host}, {"state", to_string(v.state)}, {"bytes", v.bytes}};
  if (!v.error.empty()) j["error"] = v.error;
}
void from_json(const json& j, job_target& v) {
  required(j, "host", v.host);
  std::string state;
  required(j, "state", state);
  v.state = job_state_from(state);
  optional_field(j, "bytes", v.bytes);
  optional_field(j, "error", v.error);
}

void to_json(json& j, const job_status& v) {
  std::uint32_t done = 0, failed = 0;
  std::uint64_t bytes = 0;
  for (const auto& t : v.targets) {
    done += t.state == job_state::done;
    failed += t.state == job_state::failed;
    bytes += t.bytes;
  }
  j = json{{"id", v.id},
           {"state", to_string(v.state)},
           {"request", v.request},
           {"created", v.created},
           {"finished", v.finished},
           {"task_id", v.task_id},
           {"content_length", v.content_length},
           {"hosts_total", v.targets.size()},
           {"hosts_done", done},
           {"hosts_failed", failed},
           {"bytes", bytes},
           {"hosts", v.targets}};
  if (v.error) j["error"] = *v.error;
}
void from_json(const json& j, job_status& v) {
  required(j, "id", v.id);
  std::string state;
  required(j, "state", state);
  v.state = job_state_from(state);
  required(j, "request", v.request);
  optional_field(j, "created", v.created);
  optional_field(j, "finished", v.finished);
  optional_field(j, "task_id", v.task_id);
  optional_field(j, "content_length", v.content_length);
  optional_field(j, "hosts", v.targets);
  if (j.contains("error") && !j["error"].is_null()) v.error = j["error"].get<error_info>();
}

void to_json(json& j, const job_list& v) {
  j = json{{"jobs", v.jobs}};
}
void from_json(const json& j, job_list& v) {
  required(j, "jobs", v.jobs);
}

void to_json(json& j, const task_summary& v) {
  j = json(v.task);
  j.update(json{{"url", v.url},
                {"phase", v.phase},
                {"cached_pieces", v.cached_pieces},
                {"peers", v.peers},
                {"peer_copies", v.peer_copies},
                {"origin_bytes", v.origin_bytes},
                {"served_bytes", v.served_bytes},
                {"peer_bytes", v.peer_bytes},
                {"idle_s", v.idle_s}});
}
void from_json(const json& j, task_summary& v) {
  from_json(j, v.task);
  required(j, "url", v.url);
  required(j, "phase", v.phase);
  optional_field(j, "cached_pieces", v.cached_pieces);
  optional_field(j, "peers", v.peers);
  optional_field(j, "peer_copies", v.peer_copies);
  optional_field(j, "origin_bytes", v.origin_bytes);
  optional_field(j, "served_bytes", v.served_bytes);
  optional_field(j, "peer_bytes", v.peer_bytes);
  optional_field(j, "idle_s", v.idle_s);
}

void to_json(json& j, const task_list& v) {
  j = json{{"tasks", v.tasks}};
}
void from_json(const json& j, task_list& v) {
  required(j, "tasks", v.tasks);
}

void to_json(json& j, const piece_map& v) {
  j = json{{"task_id", v.task_id}, {"holders", v.holders}, {"cached", v.cached}};
}
void from_json(const json& j, piece_map& v) {
  required(j, "task_id", v.task_id);
  required(j, "holders", v.holders);
  required(j, "cached", v.cached);
  if (v.cached.size() != v.holders.size())
    throw field_error("cached", "field 'cached' must have one character per piece");
}

void to_json(json& j, const host_summary& v) {
  j = json{{"host", v.host},
           {"upload_addr", v.upload_addr},
           {"address", v.address},
           {"idc", v.idc},
           {"location", v.location},
           {"tasks", v.tasks},
           {"downloaded_bytes", v.downloaded_bytes},
           {"uploaded_bytes", v.uploaded_bytes},
           {"download_rate", v.download_rate},
           {"upload_rate", v.upload_rate},
           {"last_seen_ms", v.last_seen_ms}};
}
void from_json(const json& j, host_summary& v) {
  required(j, "host", v.host);
  optional_field(j, "upload_addr", v.upload_addr);
  optional_field(j, "address", v.address);
  optional_field(j, "idc", v.idc);
  optional_field(j, "location", v.location);
  optional_field(j, "tasks", v.tasks);
  optional_field(j, "downloaded_bytes", v.downloaded_bytes);
  optional_field(j, "uploaded_bytes", v.uploaded_bytes);
  optional_field(j, "download_rate", v.download_rate);
  optional_field(j, "upload_rate", v.upload_rate);
  optional_field(j, "last_seen_ms", v.last_seen_ms);
}

void to_json(json& j, const host_list& v) {
  j = json{{"hosts", v.hosts},
           {"supernode_uploaded_bytes", v.supernode_uploaded_bytes},
           {"supernode_upload_rate", v.supernode_upload_rate}};
}
void from_json(const json& j, host_list& v) {
  required(j, "hosts", v.hosts);
  optional_field(j, "supernode_uploaded_bytes", v.supernode_uploaded_bytes);
  optional_field(j, "supernode_upload_rate", v.supernode_upload_rate);
}

template <class T>
std::string encode(const T& msg) {
  return json(msg).dump();
}

template <class T>
decoded<T> decode(std::string_view text) {
  decoded<T> out;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    out.error = {"", "body is not valid JSON"};
    return out;
  }
  if (!j.is_object()) {
    out.error = {"", "body must be a JSON object"};
    return out;
  }
  try {
    T value{};
    from_json(j, value);
    out.value = std::move(value);
  } catch (const field_error& e) {
    out.error = {e.field, e.what()};
  } catch (const json::exception& e) {
    out.error = {"", e.what()};
  }
  return out;
}

#define DAMSELFLY_PROTO_INSTANTIATE(T)      \
  template std::string encode<T>(const T&); \
  template decoded<T> decode<T>(std::string_view);
DAMSELFLY_PROTO_INSTANTIATE(error_info)
DAMSELFLY_PROTO_INSTANTIATE(register_request)
DAMSELFLY_PROTO_INSTANTIATE(task_info)
DAMSELFLY_PROTO_INSTANTIATE(task_replica)
DAMSELFLY_PROTO_INSTANTIATE(replica_receipt)
DAMSELFLY_PROTO_INSTANTIATE(piece_result)
DAMSELFLY_PROTO_INSTANTIATE(sync_request)
DAMSELFLY_PROTO_INSTANTIATE(assignment)
DAMSELFLY_PROTO_INSTANTIATE(sync_response)
DAMSELFLY_PROTO_INSTANTIATE(heartbeat_request)
DAMSELFLY_PROTO_INSTANTIATE(heartbeat_response)
DAMSELFLY_PROTO_INSTANTIATE(cache_entry)
DAMSELFLY_PROTO_INSTANTIATE(local_request)
DAMSELFLY_PROTO_INSTANTIATE(local_event)
DAMSELFLY_PROTO_INSTANTIATE(error_response)
DAMSELFLY_PROTO_INSTANTIATE(job_request)
DAMSELFLY_PROTO_INSTANTIATE(job_status)
DAMSELFLY_PROTO_INSTANTIATE(job_list)
DAMSELFLY_PROTO_INSTANTIATE(job_report)
DAMSELFLY_PROTO_INSTANTIATE(task_summary)
DAMSELFLY_PROTO_INSTANTIATE(task_list)
DAMSELFLY_PROTO_INSTANTIATE(piece_map)
DAMSELFLY_PROTO_INSTANTIATE(host_summary)
DAMSELFLY_PROTO_INSTANTIATE(host_list)
#undef DAMSELFLY_PROTO_INSTANTIATE

}  // namespace damselfly::proto
