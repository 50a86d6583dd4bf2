//go:build ultracuda

package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"unsafe"
)

// Options selects the device and the libraries. The zero value opens device
// 0 through libcuda.so.1 and the newest cuBLAS found, in full FP32.
type Options struct {
	// Ordinal is the device index (as in nvidia-smi / CUDA_VISIBLE_DEVICES).
	Ordinal int
	// Driver is the driver library; empty means $ULTRA_CUDA_DRIVER, then
	// libcuda.so.1.
	Driver string
	// Cublas is the cuBLAS library; empty means the colon-separated list in
	// $ULTRA_CUDA_CUBLAS, then libcublas.so.13, .12 and .11 (the first one
	// that loads and creates a handle is used).
	Cublas string
	// TF32 lets cuBLAS use TF32 tensor cores for FP32 matrix products
	// (Ampere and newer): several times faster, with 10-bit mantissas in the
	// products. Off by default, so results agree with the CPU backends.
	TF32 bool
}

// Info describes an opened device.
type Info struct {
	Name          string
	Ordinal       int
	Major, Minor  int // compute capability
	SMs           int
	TotalMem      int64
	DriverVersion int // e.g. 12040 for CUDA 12.4
	CublasVersion int // e.g. 120401
	CublasLibrary string
	DriverLibrary string
	TF32          bool
	KernelArchs   string // what the embedded fatbin holds
	// Sync is set by ULTRA_CUDA_SYNC=1 (read by Open): the host waits after
	// every kernel launch and matrix product, so that a fault on the device
	// is reported by the call that queued it, naming the kernel (see Error),
	// instead of by a later copy. A debugging setting: it costs a round trip
	// per launch.
	Sync bool
}

// syncEnv is the environment variable that sets Info.Sync.
const syncEnv = "ULTRA_CUDA_SYNC"

// String is a one-line description for logs.
func (i Info) String() string {
	sync := ""
	if i.Sync {
		sync = ", " + syncEnv + "=1: waits after every launch"
	}
	return fmt.Sprintf("%s (device %d, compute capability %d.%d, %d SMs, %.1f GiB, driver %s, cuBLAS %d from %s%s)",
		i.Name, i.Ordinal, i.Major, i.Minor, i.SMs, float64(i.TotalMem)/(1<<30), versionString(i.DriverVersion),
		i.CublasVersion, i.CublasLibrary, sync)
}

func versionString(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// Ptr is a device address.
type Ptr uint64

// Off returns p advanced by bytes.
func (p Ptr) Off(bytes int) Ptr { return p + Ptr(bytes) }

// F32 returns the address of float32 element i of the array at p.
func (p Ptr) F32(i int) Ptr { return p + Ptr(4*i) }

// Buffer is a block of device memory from a Device's pool.
type Buffer struct {
	Ptr   Ptr
	Bytes int // the size asked for; the block may be larger
	class int
}

// Device is one CUDA device opened through the driver API: its primary
// context, one non-blocking stream on which every copy, kernel and cuBLAS
// call is queued in order, the project's kernels, a cuBLAS handle and a
// pooled allocator. A Device is not safe for concurrent use; open one per
// goroutine (they share the device's primary context).
type Device struct {
	s      session
	dev    cDevice
	module cModule
	fns    [numKernels]cFunction
	blas   *blas
	info   Info
	pool   pool
	args   argBuf
	// Scratch for multi-pass reductions, grown on demand.
	scratch    Buffer
	normPart   Buffer // partial sums of squares of AdamStep
	scalarsF64 Buffer // small double results (sums, norms)
	// hosts are the live page-locked buffers (AllocHost); scalarsHost,
	// the first, receives the results Stats and AdamStep read.
	hosts       []HostBuffer
	scalarsHost HostBuffer
	closed      bool
}

// HostBuffer is page-locked ("pinned") host memory from cuMemHostAlloc,
// owned by C and allocated once for reuse (Device.AllocHost). Copies
// between it and the device (UploadAsync, DownloadAsync) are DMA transfers
// at the bus's bandwidth that the host does not wait for, and overlap its
// work; copies from Go memory (Upload, Download) go through the driver's
// own staging, and Download waits. The price is the rule of asynchronous
// copies: the host may write memory that an UploadAsync reads, or read
// memory that a DownloadAsync writes, only after the device has run the
// copy — after Sync, SyncPinned or any call that waits (Download, Stats,
// AdamStep).
type HostBuffer struct {
	p     unsafe.Pointer
	Bytes int
}

// Float32s returns n float32 values of h from byte offset off (a multiple
// of 4), as a slice over the page-locked memory: valid until FreeHost.
func (h HostBuffer) Float32s(off, n int) []float32 { return hostView[float32](h, off, n) }

// Int32s is Float32s for int32 values.
func (h HostBuffer) Int32s(off, n int) []int32 { return hostView[int32](h, off, n) }

func hostView[T float32 | int32 | float64](h HostBuffer, off, n int) []T {
	size := int(unsafe.Sizeof(T(0)))
	if off < 0 || n < 0 || off%size != 0 || off+n*size > h.Bytes {
		panic(fmt.Sprintf("cuda: HostBuffer view of %d values of %d bytes from byte %d: outside its %d bytes", n, size, off, h.Bytes))
	}
	return unsafe.Slice((*T)(unsafe.Add(h.p, off)), n)
}

// Open initialises the driver, opens device o.Ordinal and loads the kernels
// and cuBLAS. Without a usable GPU it returns an error for which
// IsNoDevice is true: a *LoadError when the driver library is missing, an
// *Error with CUDA_ERROR_NO_DEVICE when cuInit finds no device.
func Open(o Options) (*Device, error) {
	drv, err := loadDriver(driverPath(o))
	if err != nil {
		return nil, err
	}
	if err := drv.init(); err != nil {
		return nil, err
	}
	n, err := drv.deviceCount()
	if err != nil {
		return nil, err
	}
	if o.Ordinal < 0 || o.Ordinal >= n {
		return nil, &Error{Call: "cuDeviceGet", Code: codeInvalidDevice, Name: "CUDA_ERROR_INVALID_DEVICE",
			Desc: fmt.Sprintf("device %d asked for, %d device(s) visible", o.Ordinal, n)}
	}
	dev, err := drv.device(o.Ordinal)
	if err != nil {
		return nil, err
	}
	d := &Device{dev: dev}
	d.info.Ordinal, d.info.DriverLibrary, d.info.TF32, d.info.KernelArchs = o.Ordinal, drv.path, o.TF32, KernelArchs
	d.info.Sync = os.Getenv(syncEnv) == "1"
	if d.info.Name, err = drv.deviceName(dev); err != nil {
		return nil, err
	}
	for _, a := range []struct {
		attr int
		name string
		dst  *int
	}{{attrCCMajor, "COMPUTE_CAPABILITY_MAJOR", &d.info.Major}, {attrCCMinor, "COMPUTE_CAPABILITY_MINOR", &d.info.Minor},
		{attrSMs, "MULTIPROCESSOR_COUNT", &d.info.SMs}} {
		if *a.dst, err = drv.attribute(dev, a.attr, a.name); err != nil {
			return nil, err
		}
	}
	if d.info.TotalMem, err = drv.totalMem(dev); err != nil {
		return nil, err
	}
	if d.info.DriverVersion, err = drv.version(); err != nil {
		return nil, err
	}
	ctx, err := drv.retainPrimary(dev)
	if err != nil {
		return nil, err
	}
	d.s = session{drv: drv, ctx: ctx}
	if err := d.setup(o); err != nil {
		return nil, errors.Join(err, d.Close())
	}
	return d, nil
}

// setup creates the stream, loads the kernels and cuBLAS.
func (d *Device) setup(o Options) error {
	var err error
	if d.s.stream, err = d.s.drv.newStream(d.s.ctx); err != nil {
		return err
	}
	if d.module, err = d.s.loadModule(fatbin); err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Code == codeNoBinaryForGPU || e.Code == codeUnsupportedPTX || e.Code == codeInsufficientDriver) {
			return fmt.Errorf("%w: the embedded kernels (%s) do not run on %s, compute capability %d.%d, driver %s; ultra needs compute capability 8.0 or newer and a driver for CUDA 11.8 or newer",
				err, KernelArchs, d.info.Name, d.info.Major, d.info.Minor, versionString(d.info.DriverVersion))
		}
		return err
	}
	for k := range kernelNames {
		if d.fns[k], err = d.s.function(d.module, kernelNames[k]); err != nil {
			return fmt.Errorf("%w: the embedded fatbin lacks a kernel; rebuild it with make cuda-kernels", err)
		}
	}
	var errs []error
	for _, path := range cublasPaths(o) {
		lib, err := loadCublas(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b, err := d.s.newBlas(lib, o.TF32)
		if err != nil {
			// A cuBLAS newer than the driver fails here; try the next one.
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		d.blas = b
		d.info.CublasLibrary = path
		if d.info.CublasVersion, err = d.s.blasVersion(b); err != nil {
			return err
		}
		break
	}
	if d.blas == nil {
		return fmt.Errorf("cuda: no usable cuBLAS (install the CUDA runtime's libcublas, or set ULTRA_CUDA_CUBLAS): %w", errors.Join(errs...))
	}
	if d.scalarsF64, err = d.Alloc(8 * scalarSlots); err != nil {
		return err
	}
	if d.scalarsHost, err = d.AllocHost(8 * scalarSlots); err != nil {
		return err
	}
	return nil
}

// Info describes the device.
func (d *Device) Info() Info { return d.info }

// Close waits for queued work and releases everything the device holds,
// including buffers not given back with Free. Later calls fail; Close is
// idempotent.
func (d *Device) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.s.ctx == nil {
		return nil
	}
	if d.s.stream != nil {
		errs = append(errs, d.s.sync())
	}
	if d.blas != nil {
		errs = append(errs, d.s.destroyBlas(d.blas))
	}
	errs = append(errs, d.pool.releaseAll(&d.s))
	for _, h := range d.hosts {
		errs = append(errs, d.s.hostFree(h.p))
	}
	d.hosts = nil
	if d.module != nil {
		errs = append(errs, d.s.unloadModule(d.module))
	}
	if d.s.stream != nil {
		errs = append(errs, d.s.destroyStream())
	}
	errs = append(errs, d.s.drv.releasePrimary(d.dev))
	return errors.Join(errs...)
}

var errClosed = errors.New("cuda: device is closed")

// Alloc returns a buffer of at least bytes bytes from the pool. When the
// device is out of memory, the pool's cached blocks are freed and the
// allocation is tried once more.
func (d *Device) Alloc(bytes int) (Buffer, error) {
	if d.closed {
		return Buffer{}, errClosed
	}
	if bytes < 1 {
		return Buffer{}, fmt.Errorf("cuda: Alloc(%d): want at least 1 byte", bytes)
	}
	return d.pool.alloc(&d.s, bytes)
}

// Free returns b to the pool for reuse. Work already queued that uses b
// still runs before any later use, since everything runs on one stream.
// Freeing the zero Buffer, or anything after Close, does nothing. The pool
// refuses, with an error and no change, a block already free (a double
// free would hand it to two later Allocs) and a Buffer that is not one
// Alloc returned: a pointer the pool does not own, or one whose size
// class is not its block's.
func (d *Device) Free(b Buffer) error {
	if b.Ptr == 0 || d.closed {
		return nil
	}
	return d.pool.put(b)
}

// MemStats reports the pool's bytes in use and cached for reuse.
func (d *Device) MemStats() (inUse, cached int64) { return d.pool.inUse, d.pool.cached }

// MemInfo is the driver's free and total device memory.
func (d *Device) MemInfo() (free, total int64, err error) {
	if d.closed {
		return 0, 0, errClosed
	}
	return d.s.memInfo()
}

// AllocHost returns bytes bytes of page-locked host memory, freed by
// FreeHost or Close. Allocate staging buffers once and reuse them: the
// allocation is slow (the driver maps the pages for the device).
func (d *Device) AllocHost(bytes int) (HostBuffer, error) {
	if d.closed {
		return HostBuffer{}, errClosed
	}
	if bytes < 1 {
		return HostBuffer{}, fmt.Errorf("cuda: AllocHost(%d): want at least 1 byte", bytes)
	}
	p, err := d.s.hostAlloc(bytes)
	if err != nil {
		return HostBuffer{}, fmt.Errorf("%w (allocating %d bytes of page-locked host memory)", err, bytes)
	}
	h := HostBuffer{p: p, Bytes: bytes}
	d.hosts = append(d.hosts, h)
	return h, nil
}

// FreeHost waits for the copies queued to or from h and frees it. Freeing
// the zero HostBuffer, or anything after Close, does nothing.
func (d *Device) FreeHost(h HostBuffer) error {
	if h.p == nil || d.closed {
		return nil
	}
	for i, x := range d.hosts {
		if x.p == h.p {
			if err := d.SyncPinned(); err != nil {
				return err
			}
			d.hosts = append(d.hosts[:i], d.hosts[i+1:]...)
			return d.s.hostFree(h.p)
		}
	}
	return fmt.Errorf("cuda: FreeHost(%p): not a live HostBuffer of this Device; free each HostBuffer once, on the Device that allocated it", h.p)
}

// UploadAsync queues copying src, which must lie in one of d's
// HostBuffers, to device address dst. The copy reads src when the device
// runs it: do not write src before SyncPinned (or any call that waits).
func (d *Device) UploadAsync(dst Ptr, src []float32) error { return uploadAsync(d, dst, src) }

// UploadInt32Async is UploadAsync for int32 values.
func (d *Device) UploadInt32Async(dst Ptr, src []int32) error { return uploadAsync(d, dst, src) }

// DownloadAsync queues copying len(dst) float32 values from device address
// src into dst, which must lie in one of d's HostBuffers, after the work
// queued before it. dst holds them after SyncPinned (or any call that
// waits), not before.
func (d *Device) DownloadAsync(dst []float32, src Ptr) error { return downloadAsync(d, dst, src) }

func downloadAsync[T float32 | float64](d *Device, dst []T, src Ptr) error {
	if d.closed {
		return errClosed
	}
	if len(dst) == 0 {
		return nil
	}
	p, bytes := unsafe.Pointer(&dst[0]), int(unsafe.Sizeof(dst[0]))*len(dst)
	if err := d.checkPinned("DownloadAsync", "destination", p, bytes); err != nil {
		return err
	}
	return d.s.dtohPinned(p, src, bytes)
}

// SyncPinned waits for the queued work if a copy to or from page-locked
// memory (UploadAsync, DownloadAsync) was queued since the host last
// waited, and otherwise returns at once. Call it before writing a staging
// buffer that an UploadAsync may still read and before reading one that a
// DownloadAsync writes.
func (d *Device) SyncPinned() error {
	if d.closed {
		return errClosed
	}
	if !d.s.pinned {
		return nil
	}
	return d.s.sync()
}

func uploadAsync[T float32 | int32](d *Device, dst Ptr, src []T) error {
	if d.closed {
		return errClosed
	}
	if len(src) == 0 {
		return nil
	}
	p, bytes := unsafe.Pointer(&src[0]), int(unsafe.Sizeof(src[0]))*len(src)
	if err := d.checkPinned("UploadAsync", "source", p, bytes); err != nil {
		return err
	}
	return d.s.htodPinned(dst, p, bytes)
}

// checkPinned reports a host range that is not inside one of d's
// HostBuffers: an asynchronous copy of Go memory would read or write it
// after the garbage collector may have moved or freed it.
func (d *Device) checkPinned(call, what string, p unsafe.Pointer, bytes int) error {
	for _, h := range d.hosts {
		if uintptr(p) >= uintptr(h.p) && uintptr(p)+uintptr(bytes) <= uintptr(h.p)+uintptr(h.Bytes) {
			return nil
		}
	}
	return fmt.Errorf("cuda: %s: the %s (%d bytes at %p) is not in a HostBuffer of this Device; stage it in one from AllocHost, or use the synchronous copy", call, what, bytes, p)
}

// Upload copies src to device address dst.
func (d *Device) Upload(dst Ptr, src []float32) error { return upload(d, dst, src) }

// UploadInt32 copies src to device address dst.
func (d *Device) UploadInt32(dst Ptr, src []int32) error { return upload(d, dst, src) }

// Download waits for the queued work and copies len(dst) float32 values from
// device address src.
func (d *Device) Download(dst []float32, src Ptr) error { return download(d, dst, src) }

// DownloadFloat64 waits for the queued work and copies len(dst) float64
// values from device address src.
func (d *Device) DownloadFloat64(dst []float64, src Ptr) error { return download(d, dst, src) }

func upload[T float32 | int32](d *Device, dst Ptr, src []T) error {
	if d.closed {
		return errClosed
	}
	if len(src) == 0 {
		return nil
	}
	return d.s.htod(dst, unsafe.Pointer(&src[0]), int(unsafe.Sizeof(src[0]))*len(src))
}

func download[T float32 | float64](d *Device, dst []T, src Ptr) error {
	if d.closed {
		return errClosed
	}
	if len(dst) == 0 {
		return d.Sync()
	}
	return d.s.dtoh(unsafe.Pointer(&dst[0]), src, int(unsafe.Sizeof(dst[0]))*len(dst))
}

// Copy queues copying bytes bytes from device address src to dst, on the
// device: the host neither waits nor sees the data.
func (d *Device) Copy(dst, src Ptr, bytes int) error {
	if d.closed {
		return errClosed
	}
	if bytes == 0 {
		return nil
	}
	return d.s.dtod(dst, src, bytes)
}

// Zero queues setting n float32 (or any 32-bit) values at p to 0.
func (d *Device) Zero(p Ptr, n int) error {
	if d.closed {
		return errClosed
	}
	if n == 0 {
		return nil
	}
	return d.s.memset32(p, 0, n)
}

// Sync waits until all queued work has finished and reports the first
// asynchronous error (a failed kernel surfaces here).
func (d *Device) Sync() error {
	if d.closed {
		return errClosed
	}
	return d.s.sync()
}

// pool is a caching allocator: blocks are rounded up to a size class (four
// classes per power of two, so at most 25% is wasted) and kept on a free
// list per class when given back.
type pool struct {
	free          map[int][]Ptr
	live          map[Ptr]block // every allocated block, in use or free
	inUse, cached int64
}

// block is the pool's record of one device allocation.
type block struct {
	class int  // its size class, in bytes
	free  bool // on the free list
}

// sizeClass rounds n up to 256 bytes or to the next of 1, 1.25, 1.5, 1.75
// times a power of two.
func sizeClass(n int) int {
	if n <= 256 {
		return 256
	}
	p := 1 << (bits.Len(uint(n-1)) - 1) // largest power of two below n
	step := p / 4
	return (n + step - 1) / step * step
}

func (p *pool) alloc(s *session, bytes int) (Buffer, error) {
	if bytes > math.MaxInt64/2 {
		return Buffer{}, fmt.Errorf("cuda: Alloc(%d): too large", bytes)
	}
	class := sizeClass(bytes)
	if p.free == nil {
		p.free, p.live = map[int][]Ptr{}, map[Ptr]block{}
	}
	if l := p.free[class]; len(l) > 0 {
		ptr := l[len(l)-1]
		p.free[class] = l[:len(l)-1]
		p.live[ptr] = block{class: class}
		p.cached -= int64(class)
		p.inUse += int64(class)
		return Buffer{Ptr: ptr, Bytes: bytes, class: class}, nil
	}
	ptr, err := s.alloc(class)
	if IsOutOfMemory(err) && p.cached > 0 {
		if err := p.releaseCached(s); err != nil {
			return Buffer{}, err
		}
		ptr, err = s.alloc(class)
	}
	if err != nil {
		return Buffer{}, fmt.Errorf("%w (allocating %d bytes; %d in use by ultra on this device)", err, class, p.inUse)
	}
	p.live[ptr] = block{class: class}
	p.inUse += int64(class)
	return Buffer{Ptr: ptr, Bytes: bytes, class: class}, nil
}

// put gives b's block back to its free list, after checking that b is a
// block in use with b's size class.
func (p *pool) put(b Buffer) error {
	blk, ok := p.live[b.Ptr]
	switch {
	case !ok:
		return fmt.Errorf("cuda: Free(%#x): not a block of this device's pool (freed twice before a cache release, or from another Device?); free only Buffers that this Device's Alloc returned", uint64(b.Ptr))
	case blk.free:
		return fmt.Errorf("cuda: Free(%#x): block already free (double free); refused, so that two later Allocs do not share it: free each Buffer once", uint64(b.Ptr))
	case blk.class != b.class:
		return fmt.Errorf("cuda: Free(%#x): a Buffer of size class %d bytes (asked %d) for a block of class %d; refused: free the Buffer that Alloc returned for this address, unaltered",
			uint64(b.Ptr), b.class, b.Bytes, blk.class)
	}
	p.live[b.Ptr] = block{class: blk.class, free: true}
	p.free[blk.class] = append(p.free[blk.class], b.Ptr)
	p.inUse -= int64(blk.class)
	p.cached += int64(blk.class)
	return nil
}

// releaseCached frees the cached blocks.
func (p *pool) releaseCached(s *session) error {
	if err := s.sync(); err != nil {
		return err
	}
	var errs []error
	for class, l := range p.free {
		for _, ptr := range l {
			errs = append(errs, s.free(ptr))
			delete(p.live, ptr)
		}
		p.cached -= int64(class) * int64(len(l))
		delete(p.free, class)
	}
	return errors.Join(errs...)
}

// releaseAll frees every block, cached or not.
func (p *pool) releaseAll(s *session) error {
	var errs []error
	for ptr := range p.live {
		errs = append(errs, s.free(ptr))
	}
	p.free, p.live, p.inUse, p.cached = nil, nil, 0, 0
	return errors.Join(errs...)
}
