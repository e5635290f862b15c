"""Operations around long runs, done while nobody watches: the warden and its duties
(the queue per device, GPU sampling, notifications, disk care)."""
