#include "args.hpp"

#include <CLI/CLI.hpp>
#include <stdexcept>
#include <utility>

#include "strata/topo/gpu.hpp"

namespace strata::cli {

namespace {

}  // namespace

struct CommandLine::Impl {
  struct Declared {
    std::string name;  // long name, without "--"
    char short_name = 0;
    bool is_flag = false;
    CLI::Option* cli = nullptr;
  };
  std::string command;
  CLI::App app;
  std::vector<std::string> positional;
  std::vector<Declared> declared;

  explicit Impl(std::string cmd) : command(std::move(cmd)), app("", command) {
    // -h/--help is handled before CLI11 sees the words (parse); the rest of CLI11's defaults
    // (no abbreviations, no Windows-style options, no config files) are what strata wants.
    app.set_help_flag();
    app.allow_extras();  // unknown options are collected and refused by parse() with a clearer message
    app.add_option("arguments", positional);
  }

  const Declared* find(std::string_view word) const {
    for (const Declared& d : declared) {
      if (word.size() > 2 && word.substr(0, 2) == "--" && word.substr(2) == d.name) return &d;
      if (d.short_name != 0 && word.size() == 2 && word[0] == '-' && word[1] == d.short_name) return &d;
    }
    return nullptr;
  }
  const Declared& get(const std::string& name) const {
    for (const Declared& d : declared)
      if (d.name == name) return d;
    throw std::logic_error("option --" + name + " is not declared");
  }
  std::string label(const Declared& d) const { return "--" + d.name; }
};

CommandLine::CommandLine(std::string command) : impl_(std::make_unique<Impl>(std::move(command))) {}
CommandLine::~CommandLine() = default;

void CommandLine::option(const std::string& name, char short_name) {
  std::string spec = "--" + name;
  if (short_name != 0) spec = std::string("-") + short_name + "," + spec;
  // Every occurrence is kept (TakeAll) so that parse() can refuse a repeat by name, instead of
  // CLI11's "at most 1 required but received 2".
  CLI::Option* o = impl_->app.add_option(spec)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  impl_->declared.push_back({name, short_name, false, o});
}

void CommandLine::flag(const std::string& name) {
  CLI::Option* o = impl_->app.add_flag("--" + name)->disable_flag_override();
  impl_->declared.push_back({name, 0, true, o});
}

bool CommandLine::parse(const std::vector<std::string>& args) {
  Impl& m = *impl_;
  const std::string see = " (see " + m.command + " --help)";
  // What CLI11 would accept silently or report unclearly, checked word by word first: help,
  // "--flag=value", "--opt=" with nothing after it, an option whose value is missing or is
  // another option. Words after "--" are positional.
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& w = args[i];
    if (w == "--") break;
    if (w == "-h" || w == "--help") return false;
    if (w.rfind("--", 0) == 0) {
      const auto eq = w.find('=');
      if (eq != std::string::npos) {
        const Impl::Declared* d = m.find(std::string_view(w).substr(0, eq));
        if (d != nullptr && d->is_flag) throw UsageError(m.label(*d) + " takes no value" + see);
        if (d != nullptr && eq + 1 == w.size()) throw UsageError(m.label(*d) + " needs a value after '='");
        continue;
      }
    }
    const Impl::Declared* d = m.find(w);
    if (d == nullptr || d->is_flag) continue;
    if (i + 1 >= args.size()) throw UsageError(m.label(*d) + " needs a value" + see);
    const std::string& next = args[i + 1];
    const std::string next_name = next.substr(0, next.find('='));
    if (next.size() > 1 && next[0] == '-' && (m.find(next_name) != nullptr || next_name == "--help"))
      throw UsageError(m.label(*d) + " needs a value, got the option " + in_quotes(next_name) + see);
    ++i;  // the value, whatever it looks like
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
  try {
    m.app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw UsageError(m.command + ": " + topo::printable(e.what()) + see);
  }
  for (const std::string& extra : m.app.remaining()) {
    if (extra == "--") continue;
    if (extra.size() > 1 && extra[0] == '-')
      throw UsageError("unknown option " + in_quotes(extra.substr(0, extra.find('='))) + " for " + m.command + see);
    throw UsageError("unexpected argument " + in_quotes(extra) + see);
  }
  for (const Impl::Declared& d : m.declared)
    if (d.cli->count() > 1) throw UsageError(m.label(d) + " given twice");
  return true;
}

std::optional<std::string> CommandLine::value(const std::string& name) const {
  const Impl::Declared& d = impl_->get(name);
  if (d.is_flag || d.cli->count() == 0) return std::nullopt;
  return d.cli->results().front();
}

bool CommandLine::has(const std::string& name) const { return impl_->get(name).cli->count() > 0; }

const std::vector<std::string>& CommandLine::positional() const { return impl_->positional; }

std::string CommandLine::one_positional(const char* what) const {
  const auto& p = impl_->positional;
  if (p.empty()) throw UsageError(impl_->command + " needs a " + what + " argument (see " + impl_->command + " --help)");
  if (p.size() > 1)
    throw UsageError(impl_->command + " takes one " + what + " argument, got " + std::to_string(p.size()) + " (" +
                     in_quotes(p[0]) + ", " + in_quotes(p[1]) + (p.size() > 2 ? ", ..." : "") + ")");
  return p.front();
}

long long CommandLine::integer(const std::string& name, long long fallback, long long lo, long long hi) const {
  const auto v = value(name);
  return v ? parse_integer(*v, "--" + name, lo, hi) : fallback;
}

double CommandLine::seconds(const std::string& name, double fallback, double lo, double hi) const {
  const auto v = value(name);
  return v ? parse_duration(*v, "--" + name, lo, hi) : fallback;
}

std::optional<std::string> CommandLine::output(const std::string& name) const {
  auto v = value(name);
  if (v) check_output("--" + name, *v);
  return v;
}

}  // namespace strata::cli
