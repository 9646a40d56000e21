package registry

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// protoText writes the .proto source of fd, which the registry stores for a
// PROTOBUF schema: the syntax, package, imports, messages (with nested
// messages and enums, maps, oneofs, proto3 optional fields) and enums.
// Options, services, comments and reserved ranges are left out: they do not
// change the wire encoding. Types are named in full (".pkg.Message"), so an
// imported file's types resolve whatever its package. proto2 groups and
// editions files are refused.
func protoText(fd protoreflect.FileDescriptor) (string, error) {
	var w protoWriter
	switch fd.Syntax() {
	case protoreflect.Proto2:
		w.line(0, `syntax = "proto2";`)
	case protoreflect.Proto3:
		w.line(0, `syntax = "proto3";`)
	default:
		return "", fmt.Errorf("%s: %v files are not supported", fd.Path(), fd.Syntax())
	}
	if fd.Package() != "" {
		w.line(0, "")
		w.line(0, "package %s;", fd.Package())
	}
	for i := 0; i < fd.Imports().Len(); i++ {
		if i == 0 {
			w.line(0, "")
		}
		imp := fd.Imports().Get(i)
		kind := ""
		switch {
		case imp.IsPublic:
			kind = "public "
		case imp.IsWeak:
			kind = "weak "
		}
		w.line(0, "import %s%q;", kind, imp.Path())
	}
	for i := 0; i < fd.Messages().Len(); i++ {
		if err := w.message(0, fd.Messages().Get(i)); err != nil {
			return "", err
		}
	}
	for i := 0; i < fd.Enums().Len(); i++ {
		w.enum(0, fd.Enums().Get(i))
	}
	return w.b.String(), nil
}

type protoWriter struct{ b strings.Builder }

func (w *protoWriter) line(depth int, format string, args ...any) {
	if format != "" {
		w.b.WriteString(strings.Repeat("  ", depth))
	}
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

func (w *protoWriter) enum(depth int, e protoreflect.EnumDescriptor) {
	w.line(depth, "")
	w.line(depth, "enum %s {", e.Name())
	for i := 0; i < e.Values().Len(); i++ {
		v := e.Values().Get(i)
		w.line(depth+1, "%s = %d;", v.Name(), v.Number())
	}
	w.line(depth, "}")
}

func (w *protoWriter) message(depth int, m protoreflect.MessageDescriptor) error {
	w.line(depth, "")
	w.line(depth, "message %s {", m.Name())
	for i := 0; i < m.Messages().Len(); i++ {
		if n := m.Messages().Get(i); !n.IsMapEntry() {
			if err := w.message(depth+1, n); err != nil {
				return err
			}
		}
	}
	for i := 0; i < m.Enums().Len(); i++ {
		w.enum(depth+1, m.Enums().Get(i))
	}
	doneOneof := map[protoreflect.Name]bool{}
	for i := 0; i < m.Fields().Len(); i++ {
		f := m.Fields().Get(i)
		if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
			if doneOneof[o.Name()] {
				continue
			}
			doneOneof[o.Name()] = true
			w.line(depth+1, "oneof %s {", o.Name())
			for j := 0; j < o.Fields().Len(); j++ {
				of := o.Fields().Get(j)
				t, err := fieldType(of)
				if err != nil {
					return err
				}
				w.line(depth+2, "%s %s = %d;", t, of.Name(), of.Number())
			}
			w.line(depth+1, "}")
			continue
		}
		t, err := fieldType(f)
		if err != nil {
			return err
		}
		label := ""
		switch {
		case f.IsMap():
		case f.Cardinality() == protoreflect.Repeated:
			label = "repeated "
		case f.Cardinality() == protoreflect.Required:
			label = "required "
		case f.Syntax() == protoreflect.Proto2 || f.HasOptionalKeyword():
			label = "optional "
		}
		w.line(depth+1, "%s%s %s = %d;", label, t, f.Name(), f.Number())
	}
	w.line(depth, "}")
	return nil
}

func fieldType(f protoreflect.FieldDescriptor) (string, error) {
	if f.IsMap() {
		k, err := fieldType(f.MapKey())
		if err != nil {
			return "", err
		}
		v, err := fieldType(f.MapValue())
		if err != nil {
			return "", err
		}
		return "map<" + k + ", " + v + ">", nil
	}
	switch f.Kind() {
	case protoreflect.MessageKind:
		return "." + string(f.Message().FullName()), nil
	case protoreflect.EnumKind:
		return "." + string(f.Enum().FullName()), nil
	case protoreflect.GroupKind:
		return "", fmt.Errorf("field %s: groups are not supported", f.FullName())
	}
	return f.Kind().String(), nil
}

// messageIndexes is the path of m in its file: its index among the file's
// messages, then among its parent's nested messages, down to m.
func messageIndexes(m protoreflect.MessageDescriptor) []int {
	var idx []int
	for d := protoreflect.Descriptor(m); ; d = d.Parent() {
		if _, ok := d.(protoreflect.MessageDescriptor); !ok {
			break
		}
		idx = append(idx, d.Index())
	}
	for i, j := 0, len(idx)-1; i < j; i, j = i+1, j-1 {
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx
}
