#include "postgres/listen_watch.hpp"

namespace imgbatch::store::postgres {

ListenWatch::ListenWatch(std::string uri, SessionSettings settings,
                         std::function<void()> on_new_work)
    : on_new_work_(std::move(on_new_work)),
      connection_(std::move(uri), settings,
                  KeptConnection::Hooks{.on_connect =
                                            [this](KeptConnection& connection, bool after_gap) {
                                              const std::string listen =
                                                  "LISTEN " + std::string(kWorkChannel);
                                              if (!connection.run(listen.c_str())) return false;
                                              // Anything stored while we were away was announced to
                                              // nobody.
                                              if (after_gap) notify_callback();
                                              return true;
                                            },
                                        .on_notify = [this] { notify_callback(); },
                                        .on_close = nullptr}) {}

void ListenWatch::notify_callback() {
  try {
    on_new_work_();
  } catch (...) {
    // A hint that could not be delivered; the workers' own polling covers for it.
  }
}

}  // namespace imgbatch::store::postgres
