#!/bin/sh
# Runs the latency bench (benches/latency.rs) inside a qemu guest whose kernel has Binder, so the
# table gets a binder-kernel row beside the afbus rows and the floors, all in the same guest.
#
#   benches/binder-vm/run.sh [BENCH ARGS...]
#
# Installs what it needs from Debian's packages (qemu-system-x86, linux-image-amd64 - bookworm's
# 6.1 ships binder_linux.ko -, busybox-static, cpio), builds the bench as a static binary, packs
# an initramfs (busybox, the binder module and its dependencies, the bench, an /init that loads
# the module with devices=binder, runs the bench and powers off), and boots it twice under TCG:
# plain (2 vCPUs), and with -icount shift=0 (1 vCPU), where the guest clock counts instructions
# (1 ns = 1 instruction), so the times are deterministic instruction counts per round trip.
#
# Only same-vCPU ratios are credible under emulation: a cross-vCPU wake-up's cost is an
# artefact of how qemu schedules its vCPU threads. Absolute times are emulated time.
#
# Environment: AFBUS_VM_ACCEL (default tcg; this host's KVM cannot boot a stock kernel),
# AFBUS_VM_MEM (MiB, default 1536), AFBUS_VM_TIMEOUT (seconds per boot, default 1800),
# AFBUS_VM_MODES ("plain icount" by default), CARGO_TARGET_DIR_STATIC (default target-static).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATIC_DIR=${CARGO_TARGET_DIR_STATIC:-$ROOT/target-static}
WORK=$STATIC_DIR/binder-vm
ACCEL=${AFBUS_VM_ACCEL:-tcg}
MEM=${AFBUS_VM_MEM:-1536}
TIMEOUT=${AFBUS_VM_TIMEOUT:-1800}
MODES=${AFBUS_VM_MODES:-plain icount}
# Guest iterations are small: under TCG a round trip costs 20-100x native.
if [ $# -eq 0 ]; then
    set -- --iters 300
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

# The newest installed kernel that has both an image and the binder module.
find_kernel() {
    for dir in $(ls -d /lib/modules/* 2>/dev/null | sort -rV); do
        ver=$(basename "$dir")
        if [ -f "/boot/vmlinuz-$ver" ] && [ -f "$dir/kernel/drivers/android/binder_linux.ko" ]; then
            echo "$ver"
            return 0
        fi
    done
    return 1
}

echo "== installing qemu, a Debian kernel with binder_linux, busybox-static"
if ! command -v qemu-system-x86_64 >/dev/null || ! find_kernel >/dev/null \
    || ! command -v cpio >/dev/null || ! [ -x /bin/busybox ] \
    || ! dpkg -s busybox-static >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        qemu-system-x86 linux-image-amd64 busybox-static cpio
fi
KVER=$(find_kernel) || { echo "no kernel with binder_linux.ko under /lib/modules" >&2; exit 1; }
echo "kernel: $KVER"

echo "== building the latency bench as a static binary"
BENCH=$(cd "$ROOT" && CARGO_TARGET_DIR=$STATIC_DIR RUSTFLAGS='-C target-feature=+crt-static' \
    cargo bench --bench latency --no-run --target x86_64-unknown-linux-gnu \
    --message-format=json-render-diagnostics |
    grep '"name":"latency"' | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
[ -x "$BENCH" ] || { echo "bench executable not found" >&2; exit 1; }
echo "bench: $BENCH"

echo "== packing the initramfs"
rm -rf "$WORK/root"
mkdir -p "$WORK/root/bin" "$WORK/root/proc" "$WORK/root/sys" "$WORK/root/dev" \
    "$WORK/root/tmp" "$WORK/root/modules"
cp /bin/busybox "$WORK/root/bin/busybox"
cp "$BENCH" "$WORK/root/bin/latency"
# The module and what it depends on, dependencies first (modules.dep lists them after it).
MODDIR=/lib/modules/$KVER
deps=$(grep "^kernel/drivers/android/binder_linux.ko:" "$MODDIR/modules.dep" | cut -d: -f2)
LOAD=
for m in $(echo $deps | tr ' ' '\n' | tac) kernel/drivers/android/binder_linux.ko; do
    case "$m" in
        *.ko) cp "$MODDIR/$m" "$WORK/root/modules/" ;;
        *) echo "compressed module $m: not supported by busybox insmod here" >&2; exit 1 ;;
    esac
    LOAD="$LOAD $(basename "$m")"
done
cat > "$WORK/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in$LOAD; do
    case \$m in
        binder_linux.ko) insmod /modules/\$m devices=binder ;;
        *) insmod /modules/\$m ;;
    esac
done
ls -l /dev/binder
echo "=== bench begins"
/bin/latency $*
echo "=== bench ends (exit \$?)"
poweroff -f
INIT
chmod +x "$WORK/root/init"
(cd "$WORK/root" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initramfs.gz"

run_guest() { # mode
    icount=
    smp=2
    label="plain TCG, 2 vCPUs (guest clock: emulated TSC)"
    if [ "$1" = icount ]; then
        # With -icount qemu runs every vCPU in one host thread; with two vCPUs this guest made
        # no progress in ten minutes, and only same-vCPU figures are credible anyway.
        icount="-icount shift=0"
        smp=1
        label="TCG with -icount shift=0, 1 vCPU (1 ns of guest time = 1 instruction: the µs columns are thousands of instructions per round trip)"
    fi
    log=$WORK/guest-$1.log
    echo "== booting the guest: $label"
    # no_timer_check: under a loaded TCG host the kernel's IO-APIC timer check can fail and
    # panic the boot. A boot that still ends without the bench's end marker is retried once.
    for attempt in 1 2; do
        # shellcheck disable=SC2086 # $icount is two words or none
        timeout "$TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" -cpu max,-monitor,-erms,-fsrm \
            -smp "$smp" -m "$MEM" -nographic -no-reboot $icount \
            -kernel "/boot/vmlinuz-$KVER" -initrd "$WORK/initramfs.gz" \
            -append "console=ttyS0 tsc=reliable no_timer_check quiet panic=-1" \
            </dev/null >"$log" 2>&1 || true
        if grep -q "=== bench ends (exit 0)" "$log"; then
            break
        fi
        echo "guest run $attempt failed or timed out; its console is in $log" >&2
        tr -d '\r' <"$log" | tail -n 20 >&2
        if [ "$attempt" = 2 ]; then exit 1; fi
    done
    echo
    echo "### Kernel Binder in a qemu guest (Debian $KVER), $label"
    echo "### only same-vCPU (pin same) ratios are credible under emulation"
    echo
    sed -n '/=== bench begins/,/=== bench ends/p' "$log" | tr -d '\r' | sed '1d;$d'
    echo
}

for mode in $MODES; do
    run_guest "$mode"
done
